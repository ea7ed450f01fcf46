import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TesseraKubernetes

/// A stand-in for the few Kubernetes API server endpoints Tessera uses, over real HTTP, following the published
/// contract: `GET /api/v1/namespaces/{ns}/pods/{name}`, `GET /api/v1/pods`, and
/// `POST /api/v1/namespaces/{ns}/pods/{name}/binding` (201; 409 when already bound or the UID differs;
/// 404 when the pod does not exist).
public final class KubernetesAPIStandIn: Sendable {
    public struct State {
        public var pods: [String: Pod] = [:]
        public var bindings: [(pod: String, uid: String, node: String)] = []
        public var requestsSeen = 0
    }

    public let state = Mutex(State())

    public init() {}

    public func add(_ pod: Pod) {
        state.withLock { $0.pods[pod.qualifiedName] = pod }
    }

    public func delete(_ qualifiedName: String) {
        _ = state.withLock { $0.pods.removeValue(forKey: qualifiedName) }
    }

    public func pod(_ qualifiedName: String) -> Pod? { state.withLock { $0.pods[qualifiedName] } }

    public var bindings: [(pod: String, uid: String, node: String)] { state.withLock { $0.bindings } }

    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/api/v1/namespaces/:namespace/pods/:name") { _, context -> Response in
            let key = "\(try context.parameters.require("namespace"))/\(try context.parameters.require("name"))"
            guard let pod = self.pod(key) else { return Self.status(404, "pods \"\(key)\" not found") }
            return try Self.json(pod)
        }
        router.get("/api/v1/pods") { _, _ -> Response in
            struct PodList: Encodable { var apiVersion = "v1"; var kind = "PodList"; var items: [Pod] }
            return try Self.json(PodList(items: self.state.withLock { Array($0.pods.values) }))
        }
        router.post("/api/v1/namespaces/:namespace/pods/:name/binding") { request, context -> Response in
            let namespace = try context.parameters.require("namespace")
            let name = try context.parameters.require("name")
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            let binding = try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
            guard binding["apiVersion"]?.stringValue == "v1", binding["kind"]?.stringValue == "Binding",
                  binding["metadata"]?["name"]?.stringValue == name,
                  binding["metadata"]?["namespace"]?.stringValue == namespace,
                  binding["target"]?["kind"]?.stringValue == "Node",
                  let node = binding["target"]?["name"]?.stringValue
            else { return Self.status(400, "malformed Binding") }
            let uid = binding["metadata"]?["uid"]?.stringValue
            let key = "\(namespace)/\(name)"
            let outcome: Int = self.state.withLock { state in
                guard var pod = state.pods[key] else { return 404 }
                if let uid, uid != pod.metadata.uid { return 409 }
                if let bound = pod.spec.nodeName, !bound.isEmpty { return 409 }
                pod.spec.nodeName = node
                state.pods[key] = pod
                state.bindings.append((key, pod.metadata.uid ?? "", node))
                return 201
            }
            return outcome == 201 ? try Self.json(binding, status: .created) : Self.status(outcome, "binding \(key) refused")
        }
        return router
    }

    /// Serves the API over HTTP on 127.0.0.1 at a free port until cancelled; `onPort` learns the port once it
    /// listens.
    public func serve(onPort: @escaping @Sendable (Int) -> Void) async throws {
        // Quiet: the server logs cancellation at shutdown.
        var logger = Logger(label: "test.kubernetes-api")
        logger.logLevel = .critical
        let app = Application(
            router: makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { onPort($0.localAddress?.port ?? 0) }, logger: logger)
        try await app.run()
    }

    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }

    public static func status(_ code: Int, _ message: String) -> Response {
        let body = #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"\#(message)","code":\#(code)}"#
        return Response(
            status: HTTPResponse.Status(code: code), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
