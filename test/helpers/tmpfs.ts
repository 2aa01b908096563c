/**
 * A real small file system for disk-full tests: a tmpfs of a few MB mounted by the test (root only;
 * CI runs as root). Fails loudly when it cannot mount: the test it serves must not silently pass.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function mountTmpfs(sizeMiB: number): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `cannot mount a ${sizeMiB} MiB tmpfs at ${dir} (this test needs root, as in CI): ${String(err)}`,
    );
  }
  return {
    dir,
    cleanup: () => {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // Still busy (a process the test started has not exited yet): detach it now, freed when closed.
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
