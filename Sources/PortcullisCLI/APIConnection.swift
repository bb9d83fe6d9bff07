import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import PortcullisAPI

/// Where the CLI finds the control plane and its key: `PORTCULLIS_URL` / `PORTCULLIS_TOKEN`,
/// else what `portcullis login` stored (owner-only permissions), else the local default URL.
struct Connection {
    var url: URL
    var token: String?

    static let defaultURL = "http://127.0.0.1:8080"

    static var credentialsPath: URL { credentialsPath(environment: ProcessInfo.processInfo.environment) }

    /// `$XDG_CONFIG_HOME/portcullis/credentials.json`, or `$HOME/.config/portcullis/…` when
    /// XDG_CONFIG_HOME is unset, empty or relative (the XDG rule); the account's home
    /// directory only when HOME is unset too.
    static func credentialsPath(environment: [String: String]) -> URL {
        let base: URL
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            base = URL(fileURLWithPath: xdg, isDirectory: true)
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            base = URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".config", isDirectory: true)
        } else {
            base = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config", isDirectory: true)
        }
        return base.appendingPathComponent("portcullis", isDirectory: true).appendingPathComponent("credentials.json")
    }

    struct Stored: Codable {
        var url: String
        var token: String
    }

    static func resolve(url flagURL: String? = nil, token flagToken: String? = nil,
                        environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Connection {
        let stored = try? JSONDecoder().decode(Stored.self, from: Data(contentsOf: credentialsPath))
        let text = flagURL ?? environment["PORTCULLIS_URL"] ?? stored?.url ?? defaultURL
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw InputError("PORTCULLIS_URL must be an http(s) URL such as \(defaultURL), not \(text)")
        }
        return Connection(url: url, token: flagToken ?? environment["PORTCULLIS_TOKEN"] ?? stored?.token)
    }

    /// Saves URL and key for later commands, readable by the owner only.
    static func store(url: URL, token: String) throws {
        let dir = credentialsPath.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(Stored(url: url.absoluteString, token: token))
        FileManager.default.createFile(atPath: credentialsPath.path, contents: nil, attributes: [.posixPermissions: 0o600])
        try data.write(to: credentialsPath)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: credentialsPath.path)
    }

    /// The generated client, with the key on every call and API errors turned into `APIFailure`.
    func client() throws -> Client {
        guard let token, !token.isEmpty else {
            throw InputError("no API key: set PORTCULLIS_TOKEN or run portcullis login")
        }
        try Reachability.check(url)
        return Client(serverURL: url, transport: AsyncHTTPClientTransport(configuration: .init(timeout: .seconds(60))),
                      middlewares: [KeyAndErrors(token: token)])
    }
}

/// An error answer of the API: its status and `{"error"}` message.
struct APIFailure: Error, CustomStringConvertible {
    let status: Int
    let message: String
    var description: String { message }
}

/// Adds `Authorization: Bearer` and turns every non-2xx answer into an `APIFailure`
/// carrying the server's message, so commands only handle success.
struct KeyAndErrors: ClientMiddleware {
    let token: String

    func intercept(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
                   next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(token)"
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.kind != .successful else { return (response, responseBody) }
        var message = response.status.reasonPhrase
        if let responseBody, let data = try? await Data(collecting: responseBody, upTo: 1 << 20),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let text = object["error"] as? String {
            message = text
        }
        throw APIFailure(status: response.status.code, message: message)
    }
}

/// Runs a command body, printing one clear line on stderr and exiting non-zero on failure:
/// `refused` (1 unless the command gives 1 another meaning) for an API refusal, 2 for bad
/// input, 3 when the server cannot be reached. A refusal's line says what to do where it
/// can: the sandbox id the command was given when it is unknown, or what `hint` says.
func withAPI<T>(refused: CLIExit = .rejected, sandbox: String? = nil, hint: (APIFailure) -> String? = { _ in nil },
                _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as InputError {
        printError(e.message)
        throw ExitCode(CLIExit.badInput.rawValue)
    } catch let e as Unreachable {
        printError(e.message)
        throw ExitCode(CLIExit.unreachable.rawValue)
    } catch let failure as APIFailure {
        // A refusal a command re-worded itself (it knows more than the API's message says).
        printError(failure.message)
        throw ExitCode(refused.rawValue)
    } catch let e as ClientError {
        if let failure = e.underlyingError as? APIFailure {
            if failure.status == 401 {
                printError("\(failure.message) (check PORTCULLIS_TOKEN or run portcullis login)")
            } else {
                printError(hint(failure) ?? CommandHints.unknownSandbox(failure, sandbox) ?? failure.message)
            }
            throw ExitCode(refused.rawValue)
        }
        printError("cannot reach the Portcullis API: \(e.underlyingError)")
        throw ExitCode(CLIExit.unreachable.rawValue)
    }
}

/// A quick TCP connect before any call, so an unreachable server is one clear line at once
/// (the HTTP client would otherwise keep retrying the connection until its deadline).
enum Reachability {
    static func check(_ url: URL) throws {
        guard let host = url.host else { return }
        let port = url.port ?? (url.scheme == "https" ? 443 : 80)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
            throw InputError("cannot reach the Portcullis API at \(url.absoluteString): cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        var reason = "connection refused"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd >= 0 {
                var timeout = timeval(tv_sec: 3, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let ok = connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0
                if !ok { reason = String(cString: strerror(errno)).lowercased() }
                close(fd)
                if ok { return }
            }
            entry = ai.pointee.ai_next
        }
        throw Unreachable(message: "cannot reach the Portcullis API at \(url.absoluteString): \(reason)")
    }
}

/// The server could not be reached (exit 3).
struct Unreachable: Error {
    let message: String
}
