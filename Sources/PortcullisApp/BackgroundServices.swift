import Logging
import PortcullisControl
import PortcullisModel
import PortcullisPolicy
import ServiceLifecycle
import Foundation

/// Deletes audit events older than the retention period, and policy change-log entries
/// older than a day, hourly.
struct RetentionService: Service {
    let store: any Store
    let days: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let cutoff = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - Int64(days) * 86_400_000)
            do {
                let removed = try await store.deleteOlder(than: cutoff)
                if removed > 0 { logger.info("audit retention removed events", metadata: ["count": "\(removed)", "days": "\(days)"]) }
                // The policy change log needs only to cover nodes that were away for a while;
                // one that was away longer reloads everything.
                _ = try await store.pruneChanges(before: Timestamp(milliseconds: cutoff.milliseconds + Int64(days - 1) * 86_400_000))
            } catch {
                logger.error("audit retention failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}

/// Sends a keep-alive comment to live audit streams every 15 seconds, and ends them all at
/// shutdown (it stops before the API, so open streams do not hold the API's drain).
struct KeepAliveService: Service {
    let broadcaster: AuditBroadcaster

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(15)) }
            broadcaster.keepAlive()
        }
        broadcaster.finishAll()
    }
}

/// Announces once that every listener is up — woken by the listeners themselves (`ready`
/// awaits their one-shot signals, nothing polls) — then idles until shutdown. A shutdown
/// that comes first ends the wait.
struct ReadinessAnnouncer: Service {
    let ready: @Sendable () async -> ReadyAddresses?
    let announce: @Sendable (ReadyAddresses) async -> Void

    func run() async throws {
        let addresses = try? await cancelWhenGracefulShutdown { await ready() }
        if let addresses { await announce(addresses) }
        try? await gracefulShutdown()
    }
}

/// What `serve` prints once: where everything listens, the new admin key, and how to point
/// a sandbox at the gateway.
enum Banner {
    static func text(_ r: ReadyAddresses, adminKey: String?) -> String {
        var lines = [
            "Portcullis is ready.",
            "  API (and dashboard)  http://\(r.api)",
            "  HTTP/CONNECT proxy   http://\(r.proxy)",
            "  SOCKS5 proxy         " + (r.socks.map { "socks5h://\($0)" } ?? "off (--socks off)"),
            "  DNS gateway          " + (r.dns.map { "dns://\($0) (UDP and TCP)" } ?? "off (--dns off)"),
            "  Transparent listener " + (r.transparent.map { "tcp://\($0)" } ?? "off (--transparent off)"),
        ]
        if let adminKey {
            lines += [
                "",
                "Admin API key (shown once, store it now):",
                "  \(adminKey)",
            ]
        }
        lines += [
            "",
            "Point a sandbox at the gateway:",
            "  export PORTCULLIS_TOKEN=<admin key>",
            "  curl -s -X POST -H \"Authorization: Bearer $PORTCULLIS_TOKEN\" http://\(r.api)/api/v1/sandboxes",
            "  # then, inside the sandbox, with the id and password from that answer's \"proxy\":",
            "  export HTTP_PROXY=http://<sandbox id>:<password>@\(r.proxy) HTTPS_PROXY=http://<sandbox id>:<password>@\(r.proxy)",
        ]
        return lines.joined(separator: "\n")
    }
}
