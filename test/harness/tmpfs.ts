import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small RAM disk of its own: a real file system that really runs out of space. */
export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk refuses (ENOSPC): every later write that needs space fails. */
  fill(): void;
  /** Deletes the filler: space is back. */
  free(): void;
  /** Unmounts and removes the mount point. */
  dispose(): void;
}

/** Mounts a tmpfs of `sizeKiB` on a fresh directory (needs the right to mount: root here). */
export function mountSmallDisk(sizeKiB: number): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'mailferry-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOSPC') throw e;
      }
      // The last partial page: smaller writes until not one byte fits.
      for (const size of [4096, 512, 1]) {
        try {
          for (;;) writeSync(fd, chunk.subarray(0, size));
        } catch (e) {
          if ((e as { code?: string }).code !== 'ENOSPC') throw e;
        }
      }
      closeSync(fd);
    },
    free() {
      rmSync(filler, { force: true });
    },
    dispose() {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Whether this machine lets the tests mount a tmpfs (root, or a container that allows it). */
export function smallDiskAvailable(): boolean {
  try {
    mountSmallDisk(64).dispose();
    return true;
  } catch {
    return false;
  }
}
