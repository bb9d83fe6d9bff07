import Foundation
import OpenAPIRuntime
import PortcullisAPI
import PortcullisControl
import PortcullisModel
import PortcullisPolicy

/// The generated API's operations, each a thin mapping onto `ControlPlane`. Refusals are
/// thrown as `ControlError` and written as `{"error": …}` by `ErrorMiddleware`.
struct APIHandler: APIProtocol {
    let control: ControlPlane
    let readiness: @Sendable () -> Bool
    let metrics: @Sendable () -> String
    /// Live audit streams per API key.
    let streamSlots: StreamSlots

    /// The authenticated caller (`APIMiddleware` refuses unauthenticated `/api/` requests).
    func caller() async throws -> Caller {
        guard let caller = RequestAuth.caller else { throw ControlError.unauthorized }
        return caller
    }

    static func body<T>(_ body: T?) throws -> T {
        guard let body else { throw ControlError.badRequest("a JSON body is required") }
        return body
    }

    // MARK: sandboxes

    func listSandboxes(_ input: Operations.listSandboxes.Input) async throws -> Operations.listSandboxes.Output {
        let c = try await caller()
        let cursor = try PageCursor.position(of: input.query.cursor, kind: "sandboxes", scope: c.tenantID)
        let page = try await control.listSandboxes(c, cursor: cursor, limit: try QueryBounds.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(APIMapping.sandbox),
                                           next_cursor: page.nextCursor.map { PageCursor.issue($0, kind: "sandboxes", scope: c.tenantID) }))))
    }

    func createSandbox(_ input: Operations.createSandbox.Input) async throws -> Operations.createSandbox.Output {
        let c = try await caller()
        var body: Schemas.SandboxCreate?
        if case .json(let b)? = input.body { body = b }
        if let a = body?.network_profile, let b = body?.networkProfile, a != b {
            throw ControlError.badRequest("network_profile and networkProfile name different profiles")
        }
        let create = SandboxCreateInput(
            name: body?.name, template: body?.template, cloneFrom: body?.clone_from, networkAllow: body?.network?.allow,
            networkDeny: body?.network?.deny, networkProfile: body?.network_profile ?? body?.networkProfile,
            profiles: body?.profiles, mode: body?.mode?.rawValue, sourceAddresses: body?.source_addresses)
        return .created(.init(body: .json(APIMapping.sandbox(try await control.createSandbox(c, create)))))
    }

    func getSandbox(_ input: Operations.getSandbox.Input) async throws -> Operations.getSandbox.Output {
        .ok(.init(body: .json(APIMapping.sandbox(try await control.getSandbox(try await caller(), id: input.path.id)))))
    }

    func updateSandbox(_ input: Operations.updateSandbox.Input) async throws -> Operations.updateSandbox.Output {
        let c = try await caller()
        guard case .json(let body) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let clearName = body.name == nil && RequestBodyNulls.fields.contains("name")
        let v = try await control.updateSandbox(c, id: input.path.id, name: body.name, clearName: clearName, sourceAddresses: body.source_addresses)
        return .ok(.init(body: .json(APIMapping.sandbox(v))))
    }

    func deleteSandbox(_ input: Operations.deleteSandbox.Input) async throws -> Operations.deleteSandbox.Output {
        try await control.deleteSandbox(try await caller(), id: input.path.id)
        return .noContent(.init())
    }

    // MARK: sandbox policy

    func getSandboxPolicy(_ input: Operations.getSandboxPolicy.Input) async throws -> Operations.getSandboxPolicy.Output {
        .ok(.init(body: .json(APIMapping.policy(try await control.sandboxPolicy(try await caller(), id: input.path.id)))))
    }

    func replaceSandboxPolicy(_ input: Operations.replaceSandboxPolicy.Input) async throws -> Operations.replaceSandboxPolicy.Output {
        let c = try await caller()
        guard case .json(let body) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        return .ok(.init(body: .json(APIMapping.policy(try await control.replaceSandboxPolicy(c, id: input.path.id, try APIMapping.exported(body))))))
    }

    func addSandboxRule(_ input: Operations.addSandboxRule.Input) async throws -> Operations.addSandboxRule.Output {
        let c = try await caller()
        guard case .json(let body) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        return .created(.init(body: .json(APIMapping.rule(try await control.addSandboxRule(c, id: input.path.id, APIMapping.draft(body))))))
    }

    func clearSandboxRules(_ input: Operations.clearSandboxRules.Input) async throws -> Operations.clearSandboxRules.Output {
        .ok(.init(body: .json(APIMapping.policy(try await control.clearSandboxRules(try await caller(), id: input.path.id)))))
    }

    func deleteSandboxRule(_ input: Operations.deleteSandboxRule.Input) async throws -> Operations.deleteSandboxRule.Output {
        try await control.deleteSandboxRule(try await caller(), id: input.path.id, ruleID: input.path.rule_id)
        return .noContent(.init())
    }

    func lockdownSandbox(_ input: Operations.lockdownSandbox.Input) async throws -> Operations.lockdownSandbox.Output {
        let c = try await caller()
        var body: Schemas.LockdownRequest?
        if case .json(let b)? = input.body { body = b }
        let v = try await control.lockdownSandbox(c, id: input.path.id, hosts: body?.hosts, fromSuggestions: body?.from_suggestions)
        return .ok(.init(body: .json(APIMapping.policy(v))))
    }

    func observeSandbox(_ input: Operations.observeSandbox.Input) async throws -> Operations.observeSandbox.Output {
        .ok(.init(body: .json(APIMapping.policy(try await control.observeSandbox(try await caller(), id: input.path.id)))))
    }

    func attachProfile(_ input: Operations.attachProfile.Input) async throws -> Operations.attachProfile.Output {
        .ok(.init(body: .json(APIMapping.policy(try await control.attachProfile(try await caller(), id: input.path.id, profile: input.path.name)))))
    }

    func detachProfile(_ input: Operations.detachProfile.Input) async throws -> Operations.detachProfile.Output {
        .ok(.init(body: .json(APIMapping.policy(try await control.detachProfile(try await caller(), id: input.path.id, profile: input.path.name)))))
    }

    func explainDecision(_ input: Operations.explainDecision.Input) async throws -> Operations.explainDecision.Output {
        let c = try await caller()
        guard case .json(let body) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        var resolved: [String]?
        switch body.resolved {
        case .IPAddress(let a)?: resolved = [a]
        case .IPAddressList(let list)?:
            guard !list.isEmpty else { throw ControlError.badRequest("resolved must list at least one address, or be left out") }
            resolved = list
        case nil: resolved = nil
        }
        let explain = ExplainInput(host: body.host, port: body.port, transport: body._protocol?.rawValue, method: body.method,
                                   path: body.path, resolved: resolved)
        return .ok(.init(body: .json(APIMapping.explanation(try await control.explain(c, id: input.path.id, explain)))))
    }

    // MARK: pending and suggestions

    func listPending(_ input: Operations.listPending.Input) async throws -> Operations.listPending.Output {
        let c = try await caller()
        let limit = try QueryBounds.limit(input.query.limit)
        let scope = c.tenantID + "/" + input.path.id
        let cursor = try PageCursor.position(of: input.query.cursor, kind: "pending", scope: scope)
        let page = ListPage.page(try await control.pending(c, id: input.path.id), limit: limit, cursor: cursor,
                                 key: ListPage.pendingKey)
        return .ok(.init(body: .json(.init(items: page.items.map(APIMapping.pending),
                                           next_cursor: page.nextCursor.map { PageCursor.issue($0, kind: "pending", scope: scope) }))))
    }

    func resolve(_ id: String, _ pendingID: String, _ scope: Schemas.PendingResolution.scopePayload?, _ action: RuleAction) async throws -> Schemas.PendingResolved {
        let r = try await control.resolvePending(try await caller(), id: id, pendingID: pendingID, action: action, tenantWide: scope == .tenant)
        return Schemas.PendingResolved(pending: APIMapping.pending(r.entry), rule: APIMapping.rule(r.rule))
    }

    func allowPending(_ input: Operations.allowPending.Input) async throws -> Operations.allowPending.Output {
        var scope: Schemas.PendingResolution.scopePayload?
        if case .json(let b)? = input.body { scope = b.scope }
        return .ok(.init(body: .json(try await resolve(input.path.id, input.path.pending_id, scope, .allow))))
    }

    func blockPending(_ input: Operations.blockPending.Input) async throws -> Operations.blockPending.Output {
        var scope: Schemas.PendingResolution.scopePayload?
        if case .json(let b)? = input.body { scope = b.scope }
        return .ok(.init(body: .json(try await resolve(input.path.id, input.path.pending_id, scope, .deny))))
    }

    func getSuggestions(_ input: Operations.getSuggestions.Input) async throws -> Operations.getSuggestions.Output {
        let since = try QueryBounds.text("since", input.query.since, max: 16) ?? "7d"
        let report = try await control.suggestions(try await caller(), id: input.path.id, since: since)
        return .ok(.init(body: .json(APIMapping.suggestions(report, since: since))))
    }
}
