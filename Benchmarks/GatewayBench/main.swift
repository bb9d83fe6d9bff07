// `portcullis-gateway-bench`: the data plane's load benchmark (see run.sh beside this file).
//   serve  --port P --allow HOST --audit FILE     the gateway, one-host allowlist, audit as JSON lines
//          [--inspect --ca-out FILE --upstream-ca FILE]   TLS to HOST terminated (InspectionBench/run.sh)
//   origin --port P                                a loopback HTTP origin (/: 3 bytes, /bulk?mb=N)
//   naive  --port P [--threads N]                 the naive reference: a bare SwiftNIO CONNECT relay
//   load   MODE --target HOST:PORT [--proxy HOST:PORT] [--concurrency N] [--seconds S] ...
import Foundation
import NIOCore
import NIOPosix

let args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: String? = nil) -> String? {
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

switch args.first {
case "serve": try await Serve.run()
case "origin": try await Origin.run(port: Int(option("--port", "8080")!)!)
case "naive": try await Naive.run()
case "load": try await Load.run()
default:
    FileHandle.standardError.write(Data("usage: portcullis-gateway-bench serve|origin|naive|load …\n".utf8))
    exit(2)
}

/// Flushes standard output (the script waits for "ready" lines).
func flushOutput() {}

/// One line to standard output, unbuffered (the script reads "ready" lines from a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
