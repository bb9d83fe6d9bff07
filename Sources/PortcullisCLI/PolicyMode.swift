import ArgumentParser
import Foundation
import PortcullisAPI

extension PolicyCommand {
    /// `policy mode MODE --tenant | --sandbox ID`: the tenant's default mode, or a sandbox's
    /// own mode; rules and profiles are kept (and keep their ids).
    struct SetMode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mode", abstract: "Set the tenant's default mode (--tenant) or a sandbox's own mode.",
            discussion: """
                MODE is unrestricted, audit (alias observe), allowlist (alias enforce), denylist or isolated. \
                For a sandbox, `tenant` clears its own mode so it follows the tenant's default again. \
                Rules and profiles are kept. New sandboxes start in the tenant's default mode; sandboxes \
                without their own mode follow it at once.

                  portcullis policy mode allowlist --tenant
                  portcullis policy mode audit --sandbox sbx_…
                """)
        @OptionGroup var api: APIOptions
        @OptionGroup var scope: Scope
        @Argument(help: "unrestricted, audit, allowlist, denylist, isolated (or observe, enforce); for a sandbox also tenant.")
        var mode: String

        func run() async throws {
            let message = try await withAPI(sandbox: scope.sandbox) {
                let client = try api.client()
                guard let id = try scope.sandboxID() else {
                    guard let input = Schemas.ModeInput(rawValue: mode) else { throw InputError(Self.badMode(mode, sandbox: false)) }
                    let t = try await client.getTenantPolicy().ok.body.json
                    let body = Schemas.TenantPolicyInput(default_mode: input, default_profiles: t.default_profiles,
                                                         allow_rules: t.allow_rules.map(\.input), deny_rules: t.deny_rules.map(\.input))
                    let after = try await client.replaceTenantPolicy(body: .json(body)).ok.body.json
                    return "the tenant's default mode is now \(after.default_mode.rawValue)"
                }
                var exported = try await client.getSandboxPolicy(path: .init(id: id)).ok.body.json.exported
                if mode == "tenant" {
                    exported.mode = nil
                } else {
                    guard let input = Schemas.ModeInput(rawValue: mode) else { throw InputError(Self.badMode(mode, sandbox: true)) }
                    exported.mode = input
                }
                let after = try await client.replaceSandboxPolicy(path: .init(id: id), body: .json(exported)).ok.body.json
                return "\(id) is now \(after.mode.rawValue)" + (after.own_mode == nil ? " (following the tenant)" : "")
            }
            print(message)
        }

        static func badMode(_ text: String, sandbox: Bool) -> String {
            "MODE must be unrestricted, audit, observe, allowlist, enforce, denylist or isolated"
                + (sandbox ? " (or tenant, to follow the tenant's default)" : "") + ", not \(TerminalText.clean(text))"
        }
    }
}
