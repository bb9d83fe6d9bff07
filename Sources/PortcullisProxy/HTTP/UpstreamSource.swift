import NIOCore
import NIOHTTP1

/// Where the requests of an origin-mode stream go (a tunnel's host): one upstream
/// `UpstreamHTTPHandler` per request, asked for once the request is allowed.
protocol UpstreamSource: AnyObject {
    /// An upstream for one request (on the stream's event loop), or a failure that the
    /// request is answered with (502).
    func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamHTTPHandler>
    /// The request is done with `handler`; `reusable`: its response ended cleanly and both
    /// ends keep the connection. Returns true when the client stream must end too (its
    /// one upstream connection is gone).
    func release(_ handler: UpstreamHTTPHandler, reusable: Bool) -> Bool
    /// An upstream connection closed by itself; true when the client stream must end.
    func closed(_ handler: UpstreamHTTPHandler) -> Bool
    /// The client stream ended: every upstream connection closes.
    func close()
}

/// Why no upstream can be had (the stream answers each request with 502 and this reason).
struct UpstreamUnavailable: Error, CustomStringConvertible {
    let description: String
}

/// The one connection a plain-HTTP tunnel already has: requests take turns on it, and
/// when it goes, the stream goes.
final class FixedUpstream: UpstreamSource {
    let channel: any Channel
    let handler: UpstreamHTTPHandler

    /// Adds the HTTP client handlers to `channel` (a connected upstream).
    init(channel: any Channel) throws {
        self.channel = channel
        self.handler = UpstreamHTTPHandler()
        try channel.pipeline.syncOperations.addUpstreamHTTPHandlers(handler)
    }

    func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamHTTPHandler> {
        guard channel.isActive else {
            return eventLoop.makeFailedFuture(UpstreamUnavailable(description: "the upstream connection is closed"))
        }
        return eventLoop.makeSucceededFuture(handler)
    }

    func release(_ handler: UpstreamHTTPHandler, reusable: Bool) -> Bool {
        if !reusable { channel.close(promise: nil) }
        return !reusable
    }

    func closed(_ handler: UpstreamHTTPHandler) -> Bool { true }

    func close() { channel.close(promise: nil) }
}

/// No upstream: every request is answered 502 with `reason` (an upstream whose certificate
/// did not verify: INSPECTION.md, never a fallback).
final class FailedUpstream: UpstreamSource {
    let reason: String
    init(reason: String) { self.reason = reason }

    func acquire(on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamHTTPHandler> {
        eventLoop.makeFailedFuture(UpstreamUnavailable(description: reason))
    }

    func release(_ handler: UpstreamHTTPHandler, reusable: Bool) -> Bool { true }
    func closed(_ handler: UpstreamHTTPHandler) -> Bool { true }
    func close() {}
}
