import Foundation
import OpenAPIRuntime
import PortcullisAPI
import PortcullisControl
import PortcullisModel
import PortcullisPolicy

extension APIHandler {
    // MARK: tenant-wide policy

    func getTenantPolicy(_ input: Operations.getTenantPolicy.Input) async throws -> Operations.getTenantPolicy.Output {
        .ok(.init(body: .json(APIMapping.tenantPolicy(try await control.tenantPolicy(try await caller())))))
    }

    func replaceTenantPolicy(_ input: Operations.replaceTenantPolicy.Input) async throws -> Operations.replaceTenantPolicy.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let v = try await control.replaceTenantPolicy(c, try APIMapping.tenantPolicy(b))
        return .ok(.init(body: .json(APIMapping.tenantPolicy(v))))
    }

    func addTenantRule(_ input: Operations.addTenantRule.Input) async throws -> Operations.addTenantRule.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        return .created(.init(body: .json(APIMapping.rule(try await control.addTenantRule(c, APIMapping.draft(b))))))
    }

    func deleteTenantRule(_ input: Operations.deleteTenantRule.Input) async throws -> Operations.deleteTenantRule.Output {
        try await control.deleteTenantRule(try await caller(), ruleID: input.path.rule_id)
        return .noContent(.init())
    }

    func lockdownTenant(_ input: Operations.lockdownTenant.Input) async throws -> Operations.lockdownTenant.Output {
        .ok(.init(body: .json(APIMapping.tenantPolicy(try await control.setTenantMode(try await caller(), .allowlist)))))
    }

    func observeTenant(_ input: Operations.observeTenant.Input) async throws -> Operations.observeTenant.Output {
        .ok(.init(body: .json(APIMapping.tenantPolicy(try await control.setTenantMode(try await caller(), .audit)))))
    }

    // MARK: profiles

    func listProfiles(_ input: Operations.listProfiles.Input) async throws -> Operations.listProfiles.Output {
        .ok(.init(body: .json(.init(items: await control.listProfiles(try await caller()).map(APIMapping.profile)))))
    }

    func getProfile(_ input: Operations.getProfile.Input) async throws -> Operations.getProfile.Output {
        .ok(.init(body: .json(APIMapping.profile(try await control.getProfile(try await caller(), name: input.path.name)))))
    }

    func createProfile(_ input: Operations.createProfile.Input) async throws -> Operations.createProfile.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let v = try await control.createProfile(c, name: input.path.name, description: b.description, rules: b.rules.map(APIMapping.draft))
        return .created(.init(body: .json(APIMapping.profile(v))))
    }

    func replaceProfile(_ input: Operations.replaceProfile.Input) async throws -> Operations.replaceProfile.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let v = try await control.replaceProfile(c, name: input.path.name, description: b.description, rules: b.rules.map(APIMapping.draft))
        return .ok(.init(body: .json(APIMapping.profile(v))))
    }

    func deleteProfile(_ input: Operations.deleteProfile.Input) async throws -> Operations.deleteProfile.Output {
        try await control.deleteProfile(try await caller(), name: input.path.name)
        return .noContent(.init())
    }

    // MARK: templates

    func listTemplates(_ input: Operations.listTemplates.Input) async throws -> Operations.listTemplates.Output {
        .ok(.init(body: .json(.init(items: try await control.listTemplates(try await caller()).map(APIMapping.template)))))
    }

    func createTemplate(_ input: Operations.createTemplate.Input) async throws -> Operations.createTemplate.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        return .created(.init(body: .json(APIMapping.template(try await control.createTemplate(c, name: b.name, try APIMapping.exported(b))))))
    }

    func getTemplate(_ input: Operations.getTemplate.Input) async throws -> Operations.getTemplate.Output {
        .ok(.init(body: .json(APIMapping.template(try await control.getTemplate(try await caller(), name: input.path.name)))))
    }

    func replaceTemplate(_ input: Operations.replaceTemplate.Input) async throws -> Operations.replaceTemplate.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        return .ok(.init(body: .json(APIMapping.template(try await control.replaceTemplate(c, name: input.path.name, try APIMapping.exported(b, name: input.path.name))))))
    }

    func deleteTemplate(_ input: Operations.deleteTemplate.Input) async throws -> Operations.deleteTemplate.Output {
        try await control.deleteTemplate(try await caller(), name: input.path.name)
        return .noContent(.init())
    }

    // MARK: tenants (admin)

    func listTenants(_ input: Operations.listTenants.Input) async throws -> Operations.listTenants.Output {
        let c = try await caller()
        let limit = try QueryBounds.limit(input.query.limit)
        let cursor = try PageCursor.position(of: input.query.cursor, kind: "tenants", scope: c.tenantID)
        let page = ListPage.page(try await control.listTenants(c), limit: limit, cursor: cursor, key: \.id)
        return .ok(.init(body: .json(.init(items: page.items.map { Schemas.Tenant(id: $0.id, name: $0.name, created_at: APIMapping.date($0.createdAt)) },
                                           next_cursor: page.nextCursor.map { PageCursor.issue($0, kind: "tenants", scope: c.tenantID) }))))
    }

    func createTenant(_ input: Operations.createTenant.Input) async throws -> Operations.createTenant.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let r = try await control.createTenant(c, name: b.name)
        return .created(.init(body: .json(.init(id: r.tenant.id, name: r.tenant.name, api_key: r.apiKey, key_id: r.key.id,
                                                created_at: APIMapping.date(r.tenant.createdAt)))))
    }

    func createTenantKey(_ input: Operations.createTenantKey.Input) async throws -> Operations.createTenantKey.Output {
        let r = try await control.createKey(try await caller(), tenantID: input.path.id)
        return .created(.init(body: .json(.init(id: r.key.id, key_id: r.key.id, api_key: r.apiKey, created_at: APIMapping.date(r.key.createdAt)))))
    }

    func deleteTenantKey(_ input: Operations.deleteTenantKey.Input) async throws -> Operations.deleteTenantKey.Output {
        try await control.deleteKey(try await caller(), tenantID: input.path.id, keyID: input.path.key_id)
        return .noContent(.init())
    }

    // MARK: compatibility surface

    func getComputerNetworkPolicy(_ input: Operations.getComputerNetworkPolicy.Input) async throws -> Operations.getComputerNetworkPolicy.Output {
        .ok(.init(body: .json(APIMapping.computer(try await control.computerPolicy(try await caller(), id: input.path.id)))))
    }

    func setComputerNetworkPolicy(_ input: Operations.setComputerNetworkPolicy.Input) async throws -> Operations.setComputerNetworkPolicy.Output {
        let c = try await caller()
        guard case .json(let b) = input.body else { throw ControlError.badRequest("a JSON body is required") }
        let v = try await control.setComputerPolicy(c, id: input.path.id, mode: b.mode.rawValue,
                                                    rules: b.rules?.map { CompatRuleInput(host: $0.host, port: $0.port, transport: $0._protocol?.rawValue) })
        return .ok(.init(body: .json(APIMapping.computer(v))))
    }

    func resetComputerNetworkPolicy(_ input: Operations.resetComputerNetworkPolicy.Input) async throws -> Operations.resetComputerNetworkPolicy.Output {
        let v = try await control.resetComputerPolicy(try await caller(), id: input.path.id)
        return .ok(.init(body: .json(.init(data: .init(computer_id: v.computerID, mode: APIMapping.mode(v.mode))))))
    }

    // MARK: audit

    func auditQuery(_ c: Caller, sandbox: String?, action: String?, host: String?, since: String?, until: Date?, cursor: String?, limit: Int?) throws -> AuditQuery {
        let sandbox = try QueryBounds.text("sandbox", sandbox, max: 128)
        let host = try QueryBounds.text("host", host, max: 1024)
        let since = try QueryBounds.text("since", since, max: 64)
        let cursor = try PageCursor.position(of: cursor, kind: "audit", scope: c.tenantID)
        let limit = try QueryBounds.limit(limit)
        var sinceTime: Timestamp?
        if let since {
            if let w = TimeWindow(parsing: since) {
                sinceTime = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000) - w.milliseconds)
            } else if let d = RFC3339.parse(since) {
                sinceTime = APIMapping.timestamp(d)
            } else {
                throw ControlError.badRequest("since must be a window such as 7d or an RFC 3339 time, not \(Escape.quoted(since))")
            }
        }
        return AuditQuery(tenantID: c.tenantID, sandboxID: sandbox, action: action, host: host, since: sinceTime,
                          until: until.map(APIMapping.timestamp), cursor: cursor, limit: limit)
    }

    func listAudit(_ input: Operations.listAudit.Input) async throws -> Operations.listAudit.Output {
        let c = try await caller()
        let q = input.query
        let query = try auditQuery(c, sandbox: q.sandbox, action: q.action?.rawValue, host: q.host, since: q.since, until: q.until,
                                   cursor: q.cursor, limit: q.limit)
        let page = try await control.audit(c, query)
        return .ok(.init(body: .json(.init(items: page.items.map(APIMapping.audit),
                                           next_cursor: page.nextCursor.map { PageCursor.issue($0, kind: "audit", scope: c.tenantID) }))))
    }

    func streamAudit(_ input: Operations.streamAudit.Input) async throws -> Operations.streamAudit.Output {
        let c = try await caller()
        if let a = input.query.action?.rawValue, !["allow", "warn", "reject", "error"].contains(a) {
            throw ControlError.badRequest("action must be allow, warn, reject or error")
        }
        let sandbox = try QueryBounds.text("sandbox", input.query.sandbox, max: 128)
        guard let slot = streamSlots.take(key: c.keyID) else {
            let wait = APIListenerLimits.streamRetryAfterSeconds
            throw ControlError(status: 429, "this API key already holds \(streamSlots.limit) live audit streams; close one, or retry after \(wait) s",
                               retryAfter: wait)
        }
        let stream = control.broadcaster.subscribe(tenantID: c.tenantID, sandboxID: sandbox, action: input.query.action?.rawValue)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let chunks = stream.map { item -> ArraySlice<UInt8> in
            withExtendedLifetime(slot) {}
            switch item {
            case .event(let e):
                let json = (try? encoder.encode(APIMapping.audit(e))) ?? Data("{}".utf8)
                return ArraySlice(Array("id: \(e.id ?? "")\ndata: ".utf8) + Array(json) + Array("\n\n".utf8))
            case .dropped(let n):
                return ArraySlice(Array(": \(n) events were not delivered to this slow stream; the audit log has them\n\n".utf8))
            case .keepAlive:
                return ArraySlice(Array(": keep-alive\n\n".utf8))
            }
        }
        return .ok(.init(body: .text_event_hyphen_stream(HTTPBody(chunks, length: .unknown, iterationBehavior: .single))))
    }

    func exportAudit(_ input: Operations.exportAudit.Input) async throws -> Operations.exportAudit.Output {
        let c = try await caller()
        let q = input.query
        let query = try auditQuery(c, sandbox: q.sandbox, action: q.action?.rawValue, host: q.host, since: q.since, until: q.until,
                                   cursor: nil, limit: AuditExport.pageSize)
        // An export streams for as long as its reader takes: it holds one of the key's
        // live-stream slots meanwhile.
        guard let slot = streamSlots.take(key: c.keyID) else {
            let wait = APIListenerLimits.streamRetryAfterSeconds
            throw ControlError(status: 429, "this API key already holds \(streamSlots.limit) live audit streams or exports; "
                               + "let one finish, or retry after \(wait) s", retryAfter: wait)
        }
        let export = AuditExport(control: control, caller: c, query: query)
        let chunks = AsyncThrowingStream<ArraySlice<UInt8>, any Error>(unfolding: {
            withExtendedLifetime(slot) {}
            return try await export.next()
        })
        return .ok(.init(body: .application_x_hyphen_ndjson(HTTPBody(chunks, length: .unknown, iterationBehavior: .single))))
    }

    // MARK: operations

    func getHealth(_ input: Operations.getHealth.Input) async throws -> Operations.getHealth.Output {
        .ok(.init(body: .plainText(HTTPBody("ok\n"))))
    }

    func getReadiness(_ input: Operations.getReadiness.Input) async throws -> Operations.getReadiness.Output {
        readiness() ? .ok(.init(body: .plainText(HTTPBody("ready\n")))) : .serviceUnavailable(.init(body: .plainText(HTTPBody("starting\n"))))
    }

    func getMetrics(_ input: Operations.getMetrics.Input) async throws -> Operations.getMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(metrics()))))
    }
}
