/**
 * Typed request/response over a child's IPC channel, every wait bounded.
 * Messages are plain objects with a `type`; replies are matched by type (one request of a kind at a time).
 */
import type { ChildProcess } from 'node:child_process';

export interface IpcMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

function isMessage(m: unknown): m is IpcMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

/** Resolves with the next message of `type` from `child`; rejects on timeout or child exit. */
export function waitForMessage<T extends IpcMessage>(
  child: ChildProcess,
  type: string,
  timeoutMs: number,
  what = type,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: unknown): void => {
      if (isMessage(m) && m.type === type) {
        cleanup();
        resolve(m as T);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`${what}: child exited (code ${code}, signal ${signal}) before replying`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no "${type}" message within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Sends `msg` and waits for the reply of type `replyType`. */
export function request<T extends IpcMessage>(
  child: ChildProcess,
  msg: IpcMessage,
  replyType: string,
  timeoutMs: number,
): Promise<T> {
  const reply = waitForMessage<T>(child, replyType, timeoutMs, `${msg.type} → ${replyType}`);
  child.send(msg);
  return reply;
}

/** In a child: send to the parent, if there is one. */
export function sendToParent(msg: IpcMessage): void {
  process.send?.(msg);
}
