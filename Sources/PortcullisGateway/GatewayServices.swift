import ServiceLifecycle

extension Gateway {
    /// The data plane as services for one `ServiceGroup`, in the order they start: the audit
    /// writer, the shared resources, then one service per configured listener. A group stops
    /// them in reverse: every listener stops accepting (each at once), then the resources'
    /// service lets open connections finish (bounded by `drainTimeout`) and releases the
    /// threads, and the audit writer flushes what they logged last.
    public var services: [any Service] {
        [AuditWriterService(audit: audit), DataPlaneService(gateway: self)]
            + configuredListeners.map { ListenerService(gateway: self, listener: $0) }
    }
}

/// Writes the audit queue (and records pending entries) until graceful shutdown, then
/// flushes what is queued. Listed first in a group, it stops last.
struct AuditWriterService: Service {
    let audit: AuditQueue

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await audit.runWriters() }
            try? await gracefulShutdown()
            await audit.drain()
        }
    }
}

/// What the listeners share (event loops, resolver pool, gate): open from start to graceful
/// shutdown; stopped after every listener, it drains the connections they accepted.
struct DataPlaneService: Service {
    let gateway: Gateway

    func run() async throws {
        _ = try gateway.openResources()
        try? await gracefulShutdown()
        await gateway.drainAndRelease()
    }
}

/// One listener (HTTP/CONNECT, SOCKS5, DNS or transparent): bound once the shared resources
/// are open, closed at graceful shutdown. A listener that cannot bind fails, and its group
/// stops the rest.
struct ListenerService: Service {
    let gateway: Gateway
    let listener: Gateway.Listener

    func run() async throws {
        let ready = try? await cancelWhenGracefulShutdown { await gateway.resourcesReady.value() }
        guard case .some(.some(let resources)) = ready else { return }
        try await gateway.bind(listener, on: resources)
        try? await gracefulShutdown()
        await gateway.close(listener)
    }
}
