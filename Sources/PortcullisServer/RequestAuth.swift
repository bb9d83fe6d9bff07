/// The bearer token of the request being handled, set by `AuthMiddleware` for the generated
/// handlers (which see no headers for security schemes).
enum RequestAuth {
    @TaskLocal static var bearer: String?
}
