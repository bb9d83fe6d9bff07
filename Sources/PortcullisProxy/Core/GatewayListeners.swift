import PortcullisPolicy
import Synchronization

/// The gateway's own listeners (API, HTTP proxy, SOCKS5, DNS, transparent) and the
/// addresses of the machine it runs on: no sandbox reaches them through the gateway,
/// whatever its rules and the guard's exemptions say (`--guard-exempt 127.0.0.0/8` opens
/// loopback services, never these ports), and a CONNECT to the proxy's own port cannot loop.
public struct GatewayListeners: Hashable, Sendable {
    /// One bound listener: an address (unspecified for a wildcard bind) and a port.
    public struct Listener: Hashable, Sendable {
        public let address: IPAddress
        public let port: UInt16
        public init(address: IPAddress, port: UInt16) {
            self.address = address
            self.port = port
        }
    }

    public let listeners: [Listener]
    /// The machine's own addresses (its interfaces'), which a wildcard listener answers on.
    public let localAddresses: Set<IPAddress>
    private let ports: Set<UInt16>

    public init(listeners: [Listener], localAddresses: Set<IPAddress> = []) {
        self.listeners = listeners
        self.localAddresses = localAddresses
        self.ports = Set(listeners.map(\.port))
    }

    public static let none = GatewayListeners(listeners: [])

    /// Whether connecting to `address` port `port` would reach one of the listeners: the
    /// listener's own address; any address of this machine (loopback included) for a
    /// wildcard listener; and the unspecified address, which the kernel treats as "this host".
    public func covers(_ address: IPAddress, port: UInt16) -> Bool {
        guard ports.contains(port) else { return false }
        let reachesThisHost = address.isUnspecified || address.isLoopback || localAddresses.contains(address)
        for listener in listeners where listener.port == port {
            if listener.address == address { return true }
            if address.isUnspecified { return true }
            if listener.address.isUnspecified, reachesThisHost { return true }
        }
        return false
    }
}

extension IPAddress {
    /// `0.0.0.0` or `::`.
    public var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a.value == 0
        case .v6(let a): return a.value == 0
        }
    }

    /// `127.0.0.0/8` or `::1`.
    public var isLoopback: Bool {
        switch self {
        case .v4(let a): return a.value >> 24 == 127
        case .v6(let a): return a.value == 1
        }
    }
}

/// The gateway's listeners as they become known (the API binds beside the data plane, and
/// port 0 resolves only once bound): read once per attempt, added to at start-up.
public final class ListenerBook: Sendable {
    private let state: Mutex<GatewayListeners>

    public init(_ initial: GatewayListeners = .none) { state = Mutex(initial) }

    public var current: GatewayListeners { state.withLock { $0 } }

    /// Adds bound listeners (and, when given, the machine's addresses).
    public func add(_ listeners: [GatewayListeners.Listener], localAddresses: Set<IPAddress>? = nil) {
        state.withLock { book in
            book = GatewayListeners(listeners: book.listeners + listeners, localAddresses: localAddresses ?? book.localAddresses)
        }
    }
}
