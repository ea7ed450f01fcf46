import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import Testing
import TesseraController
import TesseraKubernetes
import TesseraTestSupport

/// The Kubernetes API client verifies the API server against a CA bundle — in a cluster, the service account's
/// `ca.crt` — through the pool's NIO client (Foundation's URLSession on Linux cannot be given one): a stand-in API
/// server over real TLS, with a certificate of one CA, is reached by a client trusting that CA and refused by a
/// client trusting another.
@Suite struct KubernetesClientTLSTests {
    @Test func theAPIServerIsVerifiedAgainstTheConfiguredCA() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-kube-tls-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (cluster, _) = try CertificateAuthority.loadOrCreate(directory: folder.appendingPathComponent("cluster").path)
        _ = try CertificateAuthority.loadOrCreate(directory: folder.appendingPathComponent("other").path)
        let (chain, key) = try cluster.issueWithKey(commonName: "kube-apiserver", hosts: ["127.0.0.1"])
        let serverTLS = try ControllerTLS(certificateChainPEM: chain, privateKeyPEM: key, authority: nil, caBundlePath: nil)
            .serverConfiguration()

        let api = KubernetesAPIStandIn()
        api.add(Pod(metadata: .init(name: "web", namespace: "course", uid: "u-1"), spec: .init(containers: [])))
        var logger = Logger(label: "test.kubernetes-api")
        logger.logLevel = .critical
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (ports, port) = AsyncStream.makeStream(of: Int.self)
            let app = Application(
                router: api.makeRouter(), server: try .tls(.http1(), tlsConfiguration: serverTLS),
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { port.yield($0.localAddress?.port ?? 0) }, logger: logger)
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            let url = "https://127.0.0.1:\(await iterator.next()!)"

            let trusting = KubernetesClient(configuration: .init(baseURL: url, caFile: CertificateAuthority.paths(in: folder.appendingPathComponent("cluster").path).certificate))
            let pod = try await trusting.pod(namespace: "course", name: "web")
            #expect(pod.metadata.uid == "u-1")

            let foreign = KubernetesClient(configuration: .init(baseURL: url, caFile: CertificateAuthority.paths(in: folder.appendingPathComponent("other").path).certificate))
            do {
                _ = try await foreign.pod(namespace: "course", name: "web")
                Issue.record("a client trusting another CA reached the API server")
            } catch {
                #expect("\(error)".lowercased().contains("certificate"), "\(error)")
            }
            group.cancelAll()
        }
    }

    @Test func inClusterConfigurationTrustsTheServiceAccountsCA() throws {
        let configuration = try #require(KubernetesAPIConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]))
        #expect(configuration.baseURL == "https://10.96.0.1:443")
        #expect(configuration.caFile == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
        #expect(configuration.tokenFile == "/var/run/secrets/kubernetes.io/serviceaccount/token")
    }
}
