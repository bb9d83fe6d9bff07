import Hummingbird
import HummingbirdCore
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import PortcullisAPI
import PortcullisControl

/// Builds the Hummingbird application serving the API at `/api/v1`, the operations routes
/// and the dashboard's static files (`DashboardAssets`), within `limits` (timeouts, a
/// connection cap, live streams per key).
public enum APIServer {
    public static func application(
        control: ControlPlane, host: String, port: Int, logger: Logger, limits: APIListenerLimits = APIListenerLimits(),
        readiness: @escaping @Sendable () -> Bool, metrics: @escaping @Sendable () -> String,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router()
        let handler = APIHandler(control: control, readiness: readiness, metrics: metrics,
                                 streamSlots: StreamSlots(limit: limits.maxStreamsPerKey))
        let listing = RouteListing()
        try handler.registerHandlers(on: listing)
        router.middlewares.add(APIMiddleware(control: control, logger: logger, routes: listing.table))
        router.middlewares.add(FleetWaitMiddleware(control: control))
        DashboardAssets.register(on: router)
        try handler.registerHandlers(on: RequestBodyTransport(base: router, maxBodyBytes: 8 << 20, budget: BodyBudget(limit: 64 << 20)),
                                     configuration: Configuration(dateTranscoder: RFC3339DateTranscoder()))
        return Application(
            router: router,
            server: .boundedHTTP1(limits),
            configuration: .init(address: .hostname(host, port: port), serverName: "portcullis",
                                 availableConnectionsDelegate: MaximumAvailableConnections(max(1, limits.maxConnections), logger: logger)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
