import NIOCore
import NIOPosix
import PortcullisPolicy
import PortcullisProxy

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resolution off the event loop: the hosts-file override first, then (when enabled) the
/// system resolver (`getaddrinfo` on an `NIOThreadPool`), with a timeout. A failure or a
/// timeout is an error — never an allow. Answers keep their order, IPv6 and IPv4 alike.
public final class Resolver: Sendable {
    let hosts: HostsFile
    let pool: NIOThreadPool
    let timeout: TimeAmount
    let useSystemResolver: Bool

    public init(hosts: HostsFile, pool: NIOThreadPool, timeout: TimeAmount, useSystemResolver: Bool) {
        self.hosts = hosts
        self.pool = pool
        self.timeout = timeout
        self.useSystemResolver = useSystemResolver
    }

    public func resolve(_ name: DomainName, on eventLoop: any EventLoop) -> EventLoopFuture<[IPAddress]> {
        if let addresses = hosts.addresses(for: name) { return eventLoop.makeSucceededFuture(addresses) }
        guard useSystemResolver else {
            return eventLoop.makeFailedFuture(ResolveError(timedOut: false, message: "\(name) is not in the hosts file"))
        }
        let promise = eventLoop.makePromise(of: [IPAddress].self)
        let timer = eventLoop.scheduleTask(in: timeout) {
            promise.fail(ResolveError(timedOut: true, message: "looking up \(name) timed out"))
        }
        let text = name.text
        pool.runIfActive(eventLoop: eventLoop) { try Resolver.getaddrinfo(text) }.whenComplete { result in
            timer.cancel()
            switch result {
            case .success(let addresses): promise.succeed(addresses)
            case .failure(let error): promise.fail(error)
            }
        }
        return promise.futureResult
    }

    /// Blocking; runs on the thread pool only.
    static func getaddrinfo(_ name: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = Glibc.getaddrinfo(name, nil, &hints, &result)
        guard rc == 0, let first = result else {
            throw ResolveError(timedOut: false, message: "\(name) did not resolve (\(String(cString: gai_strerror(rc))))")
        }
        defer { freeaddrinfo(first) }
        var out: [IPAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            if let sa = current.pointee.ai_addr {
                var address: IPAddress?
                switch Int32(sa.pointee.sa_family) {
                case AF_INET:
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        address = .v4(IPv4Address(UInt32(bigEndian: sin.pointee.sin_addr.s_addr)))
                    }
                case AF_INET6:
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                        var value: UInt128 = 0
                        withUnsafeBytes(of: sin6.pointee.sin6_addr) { raw in
                            for byte in raw { value = value << 8 | UInt128(byte) }
                        }
                        address = IPAddress.canonical(IPv6Address(value))
                    }
                default: break
                }
                if let address, !out.contains(address) { out.append(address) }
            }
            node = current.pointee.ai_next
        }
        return out
    }
}
