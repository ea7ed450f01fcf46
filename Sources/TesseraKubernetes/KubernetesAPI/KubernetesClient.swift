import Foundation
import TesseraPoolAPI

/// The few Kubernetes API calls Tessera makes: read a pod, list pods, create a pod's Binding.
public struct KubernetesClient: Sendable {
    public let configuration: KubernetesAPIConfiguration

    public init(configuration: KubernetesAPIConfiguration) {
        self.configuration = configuration
    }

    /// `GET /api/v1/namespaces/{namespace}/pods/{name}`.
    public func pod(namespace: String, name: String) async throws(KubernetesError) -> Pod {
        let data = try await send("GET", "/api/v1/namespaces/\(escape(namespace))/pods/\(escape(name))", body: nil)
        return try decode(Pod.self, data, what: "pod \(namespace)/\(name)")
    }

    /// `GET /api/v1/pods`, optionally narrowed by a field selector such as `spec.nodeName=n1`.
    public func pods(fieldSelector: String? = nil) async throws(KubernetesError) -> [Pod] {
        struct PodList: Decodable { var items: [Pod] }
        var path = "/api/v1/pods"
        if let fieldSelector { path += "?fieldSelector=\(escape(fieldSelector))" }
        return try decode(PodList.self, try await send("GET", path, body: nil), what: "pod list").items
    }

    /// `POST /api/v1/namespaces/{namespace}/pods/{name}/binding`: puts the pod on `node`. The UID makes the API
    /// server refuse the binding if the pod was replaced by another of the same name.
    public func bind(namespace: String, name: String, uid: String, node: String) async throws(KubernetesError) {
        let body: [String: JSONValue] = [
            "apiVersion": .string("v1"), "kind": .string("Binding"),
            "metadata": .object(["name": .string(name), "namespace": .string(namespace), "uid": .string(uid)]),
            "target": .object(["apiVersion": .string("v1"), "kind": .string("Node"), "name": .string(node)]),
        ]
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch {
            throw KubernetesError(.invalidRequest, "encoding binding: \(error)")
        }
        _ = try await send("POST", "/api/v1/namespaces/\(escape(namespace))/pods/\(escape(name))/binding", body: data)
    }

    private func send(_ method: String, _ path: String, body: Data?) async throws(KubernetesError) -> Data {
        guard let url = URL(string: configuration.baseURL + path) else {
            throw KubernetesError(.invalidRequest, "bad Kubernetes API URL \(configuration.baseURL + path)")
        }
        var headers: [String: String] = [:]
        if let tokenFile = configuration.tokenFile,
           let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            headers["Authorization"] = "Bearer \(token.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
        let reply: HTTPTransport.Reply
        do {
            reply = try await HTTPTransport.send(
                HTTPTransport.request(method, url, body: body, timeoutSeconds: configuration.timeoutSeconds, headers: headers),
                caFile: configuration.caFile)
        } catch {
            throw KubernetesError(.upstream, "\(method) \(path): \(error.message)")
        }
        guard reply.isSuccess else {
            let text = String(decoding: reply.body.prefix(512), as: UTF8.self)
            throw KubernetesError(reply.status == 404 ? .notFound : reply.status == 409 ? .conflict : .upstream,
                                  "\(method) \(path): HTTP \(reply.status) \(text)")
        }
        return reply.body
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data, what: String) throws(KubernetesError) -> T {
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw KubernetesError(.upstream, "\(what): unexpected JSON: \(error)")
        }
    }

    private func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "/?&=+"))) ?? text
    }
}
