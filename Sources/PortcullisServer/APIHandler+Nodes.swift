import PortcullisAPI
import PortcullisControl

extension APIHandler {
    func listNodes(_ input: Operations.listNodes.Input) async throws -> Operations.listNodes.Output {
        let listing = try await control.listNodes(try await caller())
        let items = listing.nodes.map { v in
            Schemas.Node(id: v.record.id, api_address: v.record.apiAddress, proxy_address: v.record.proxyAddress,
                         version: v.record.softwareVersion, started_at: APIMapping.date(v.record.startedAt),
                         last_heartbeat: APIMapping.date(v.record.heartbeatAt),
                         applied_policy_version: Int64(clamping: v.record.appliedPolicyVersion), lag: Int64(clamping: v.lag),
                         state: Schemas.Node.statePayload(rawValue: v.state.rawValue) ?? .syncing)
        }
        return .ok(.init(body: .json(.init(items: items, policy_version: Int64(clamping: listing.policyVersion)))))
    }
}
