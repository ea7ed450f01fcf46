import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TesseraKubernetes
import TesseraNode
import TesseraNodeAgent
import TesseraPoolAPI

/// `tessera node` options for joining a pool. The node token comes from --node-token-file or
/// $TESSERA_NODE_TOKEN.
struct NodePoolOptions: ParsableArguments {
    @Option(help: "Join the pool of the controller at this URL (e.g. https://10.0.0.1:7080).")
    var controller: String?

    @Option(help: "File holding the node token (else $TESSERA_NODE_TOKEN).")
    var nodeTokenFile: String?

    @Option(help: "CA bundle (PEM) the controller's HTTPS certificate must chain to (else $TESSERA_CA).")
    var caFile: String?

    @Option(help: "This node's name in the pool (default: the host name).")
    var name: String?

    @Option(help: "HOST:PORT where programs on other machines reach this node (default: the --listen address).")
    var advertise: String?

    @Option(help: "Seconds between heartbeats.")
    var heartbeatInterval: Double = 1

    @Flag(help: "Kubernetes mode: a program on the unix socket gets only its pod's reservation (pod from the process's cgroup).")
    var podReservations = false

    @Option(help: "Where the host's /proc is mounted (with --pod-reservations).")
    var procRoot: String = "/proc"

    /// The controller-backed placement, when joining a pool.
    /// - Parameter kubelet: the kubelet's pod-resources API, when the node serves the device plugin: pods' programs
    ///   then also need the kubelet to confirm their pod holds Tessera devices.
    func placement(kubelet: (any PodResourcesSource)? = nil, resourceName: String = ResourceNames.standard.vgpu) throws -> ControllerPlacement? {
        guard let controller else {
            if podReservations { throw ValidationError("--pod-reservations needs --controller: pods' reservations are held there") }
            return nil
        }
        let token: String
        if let nodeTokenFile { token = try readToken(nodeTokenFile) } else if let t = ProcessInfo.processInfo.environment["TESSERA_NODE_TOKEN"], !t.isEmpty {
            token = t
        } else {
            throw ValidationError("--controller needs a node token: --node-token-file or TESSERA_NODE_TOKEN")
        }
        let client = ControllerClient(baseURL: controller, token: token, caFile: caFile ?? ControllerClient.environmentCAFile)
        let claims = podReservations
            ? PodReservationClaims(client: client, procRoot: procRoot, podResources: kubelet, resourceName: resourceName) : nil
        return ControllerPlacement(client: client, nodeName: name ?? ProcessInfo.processInfo.hostName, claims: claims)
    }

    /// The link keeping `node` in the pool.
    func link(node: Node, placement: ControllerPlacement, logger: Logger) -> ControllerLink {
        ControllerLink(node: node, placement: placement, advertise: advertise, interval: heartbeatInterval, logger: logger)
    }
}
