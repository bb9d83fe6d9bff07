@testable import PortcullisPolicy

/// The error code `body` throws, or nil when it does not throw.
func hostErrorCode(_ body: () throws(HostError) -> some Any) -> HostError.Code? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.code
    }
}

/// The error `body` throws, or nil when it does not throw.
func hostError(_ body: () throws(HostError) -> some Any) -> HostError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress { .v4(IPv4Address(a, b, c, d)) }

