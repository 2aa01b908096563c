/**
 * The Sparkplug B payload message, described for @bufbuild/protobuf from the Sparkplug 3.0
 * specification's payload chapter (field names, numbers and types as the specification defines
 * them; written here, not copied from Eclipse Tahu's EPL-2.0 .proto). proto2, as the specification
 * uses, so presence of optional fields (alias, timestamp, seq) is observable with isFieldSet.
 *
 * Only what a host historian reads is declared: properties, metadata and extensions are skipped
 * as unknown fields by the protobuf reader (the raw payload is stored with the message anyway).
 */
import type { DescMessage } from '@bufbuild/protobuf';
import type { DescriptorProto } from '@bufbuild/protobuf/wkt';
import { protobuf, protobufWkt } from './protobuf.js';

const PACKAGE = 'org.eclipse.tahu.protobuf';

type FieldSpec = [
  name: string,
  number: number,
  type: number,
  typeName?: string,
  repeated?: boolean,
  oneof?: number,
];

export interface SparkplugSchema {
  /** org.eclipse.tahu.protobuf.Payload */
  readonly payload: DescMessage;
  /** Payload.Metric */
  readonly metric: DescMessage;
}

let built: SparkplugSchema | undefined;

/** The descriptors, built (and @bufbuild/protobuf loaded) on the first call. */
export function sparkplugSchema(): SparkplugSchema {
  built ??= build();
  return built;
}

function build(): SparkplugSchema {
  const { create, createFileRegistry } = protobuf();
  const {
    DescriptorProtoSchema,
    FieldDescriptorProto_Label: Label,
    FieldDescriptorProto_Type: T,
    FileDescriptorProtoSchema,
  } = protobufWkt();

  function message(
    name: string,
    fields: FieldSpec[],
    nested: DescriptorProto[] = [],
    oneofs: string[] = [],
  ): DescriptorProto {
    return create(DescriptorProtoSchema, {
      name,
      field: fields.map(([fname, number, type, typeName, repeated, oneofIndex]) => ({
        name: fname,
        number,
        type,
        label: repeated === true ? Label.REPEATED : Label.OPTIONAL,
        ...(typeName === undefined || typeName === '' ? {} : { typeName: `.${PACKAGE}.${typeName}` }),
        ...(oneofIndex === undefined ? {} : { oneofIndex }),
      })),
      nestedType: nested,
      oneofDecl: oneofs.map((n) => ({ name: n })),
    });
  }

  /** The value oneof shared, with different field numbers, by Parameter, DataSetValue and Metric. */
  const scalarValues = (first: number): FieldSpec[] => [
    ['int_value', first, T.UINT32, '', false, 0],
    ['long_value', first + 1, T.UINT64, '', false, 0],
    ['float_value', first + 2, T.FLOAT, '', false, 0],
    ['double_value', first + 3, T.DOUBLE, '', false, 0],
    ['boolean_value', first + 4, T.BOOL, '', false, 0],
    ['string_value', first + 5, T.STRING, '', false, 0],
  ];

  const template = message(
    'Template',
    [
      ['version', 1, T.STRING],
      ['metrics', 2, T.MESSAGE, 'Payload.Metric', true],
      ['parameters', 3, T.MESSAGE, 'Payload.Template.Parameter', true],
      ['template_ref', 4, T.STRING],
      ['is_definition', 5, T.BOOL],
    ],
    [message('Parameter', [['name', 1, T.STRING], ['type', 2, T.UINT32], ...scalarValues(3)], [], ['value'])],
  );

  const dataSet = message(
    'DataSet',
    [
      ['num_of_columns', 1, T.UINT64],
      ['columns', 2, T.STRING, '', true],
      ['types', 3, T.UINT32, '', true],
      ['rows', 4, T.MESSAGE, 'Payload.DataSet.Row', true],
    ],
    [
      message('DataSetValue', scalarValues(1), [], ['value']),
      message('Row', [['elements', 1, T.MESSAGE, 'Payload.DataSet.DataSetValue', true]]),
    ],
  );

  const metric = message(
    'Metric',
    [
      ['name', 1, T.STRING],
      ['alias', 2, T.UINT64],
      ['timestamp', 3, T.UINT64],
      ['datatype', 4, T.UINT32],
      ['is_historical', 5, T.BOOL],
      ['is_transient', 6, T.BOOL],
      ['is_null', 7, T.BOOL],
      ...scalarValues(10),
      ['bytes_value', 16, T.BYTES, '', false, 0],
      ['dataset_value', 17, T.MESSAGE, 'Payload.DataSet', false, 0],
      ['template_value', 18, T.MESSAGE, 'Payload.Template', false, 0],
    ],
    [],
    ['value'],
  );

  const payload = message(
    'Payload',
    [
      ['timestamp', 1, T.UINT64],
      ['metrics', 2, T.MESSAGE, 'Payload.Metric', true],
      ['seq', 3, T.UINT64],
      ['uuid', 4, T.STRING],
      ['body', 5, T.BYTES],
    ],
    [template, dataSet, metric],
  );

  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: 'mqlite/sparkplug_b.proto',
      package: PACKAGE,
      syntax: 'proto2',
      messageType: [payload],
    }),
    () => undefined,
  );

  const get = (name: string): DescMessage => {
    const desc = registry.getMessage(`${PACKAGE}.${name}`);
    if (desc === undefined) throw new Error(`sparkplug schema: ${name} missing`);
    return desc;
  };
  return { payload: get('Payload'), metric: get('Payload.Metric') };
}
