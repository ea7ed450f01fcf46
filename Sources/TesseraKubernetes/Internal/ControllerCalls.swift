import TesseraPoolAPI

/// The controller's API as the extender uses it: ``ControllerClient`` with its errors as ``KubernetesError``s.
struct ControllerCalls: Sendable {
    let client: ControllerClient

    func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws(KubernetesError) -> T {
        do { return try await client.get(path) } catch { throw KubernetesError(controller: error) }
    }

    func post<T: Decodable>(_ path: String, _ body: some Encodable, as type: T.Type = T.self) async throws(KubernetesError) -> T {
        do { return try await client.post(path, body) } catch { throw KubernetesError(controller: error) }
    }

    func delete(_ path: String) async throws(KubernetesError) {
        do { try await client.delete(path) } catch { throw KubernetesError(controller: error) }
    }
}

extension KubernetesError {
    /// The controller's refusal as the extender reports it: capacity gone (unavailable) is a conflict with the
    /// scheduler's view; anything without a Kubernetes meaning is an upstream failure.
    init(controller error: PoolError) {
        let code: Code = switch error.code {
        case .notFound: .notFound
        case .conflict, .unavailable: .conflict
        case .invalidRequest: .invalidRequest
        default: .upstream
        }
        self.init(code, error.message)
    }
}
