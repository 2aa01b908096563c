/**
 * One render of the registry serves every scrape within `maxAgeMs`, and concurrent scrapes share
 * the render in progress. Rendering walks every metric and collects the process metrics (a
 * /proc read or two); 2,000 concurrent scrapes each rendering took p50 7.7 s and cut ingestion
 * to 0.86x. A second-old answer is as good: Prometheus scrapes every 15 s by default.
 */
export class MetricsCache {
  private cached: { text: string; at: number } | undefined;
  private rendering: Promise<string> | undefined;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly maxAgeMs: number,
    /** Monotonic ms; tests pin it. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(): Promise<string> {
    const c = this.cached;
    if (c !== undefined && this.now() - c.at < this.maxAgeMs) return Promise.resolve(c.text);
    this.rendering ??= this.render().then(
      (text) => {
        this.cached = { text, at: this.now() };
        this.rendering = undefined;
        return text;
      },
      (err: unknown) => {
        // Not cached: the next scrape tries again.
        this.rendering = undefined;
        throw err;
      },
    );
    return this.rendering;
  }
}
