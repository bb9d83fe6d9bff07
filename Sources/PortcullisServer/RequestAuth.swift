import PortcullisControl

/// The caller of the request being handled, set by `APIMiddleware` for the generated
/// handlers (which see no headers for security schemes).
enum RequestAuth {
    @TaskLocal static var caller: Caller?
}
