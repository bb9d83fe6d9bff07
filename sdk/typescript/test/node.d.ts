// The few Node built-ins the tests use, declared loosely: Debian ships no @types/node and
// the npm registry is out of reach. The SDK itself needs none of this.
declare const process: {
  env: Record<string, string | undefined>;
  pid: number;
  execPath: string;
  getuid?(): number;
  on(event: string, listener: (...args: any[]) => void): void;
};
declare function setImmediate(fn: () => void): unknown;
declare module 'node:test' {
  export function test(name: string, fn: (t: any) => unknown): Promise<void>;
  export function test(name: string, options: Record<string, unknown>, fn: (t: any) => unknown): Promise<void>;
  export function before(fn: () => unknown, options?: Record<string, unknown>): void;
  export function after(fn: () => unknown): void;
}
declare module 'node:assert/strict' {
  const assert: any;
  export default assert;
}
declare module 'node:child_process' {
  export function spawn(command: string, args: string[], options?: any): any;
  export function spawnSync(command: string, args: string[], options?: any): any;
}
declare module 'node:http' {
  export function createServer(handler: (req: any, res: any) => void): any;
  export function request(options: any, callback?: (res: any) => void): any;
}
declare module 'node:net' {
  export function createServer(handler?: (socket: any) => void): any;
}
declare module 'node:fs' {
  export function mkdtempSync(prefix: string): string;
  export function writeFileSync(path: string, data: string, options?: any): void;
  export function readFileSync(path: string, encoding: string): string;
  export function rmSync(path: string, options?: any): void;
  export function existsSync(path: string): boolean;
  export function createWriteStream(path: string): any;
}
declare module 'node:crypto' {
  export function randomBytes(size: number): { toString(encoding: string): string };
}
declare module 'node:os' {
  export function tmpdir(): string;
}
declare module 'node:path' {
  export function join(...parts: string[]): string;
  export function resolve(...parts: string[]): string;
  export function dirname(path: string): string;
}
declare module 'node:url' {
  export function fileURLToPath(url: string | URL): string;
}
declare module 'node:readline' {
  export function createInterface(options: any): any;
}
