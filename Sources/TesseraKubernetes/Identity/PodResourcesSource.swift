/// The kubelet's record of which devices each pod on this node holds (its pod-resources API), asked to confirm
/// that a pod was really admitted with vGPUs here before the node grants it anything.
///
/// The kubelet answers from its own admission state, which no container can write to; together with the
/// process's cgroup it ties a program to a pod that the kubelet itself gave Tessera's devices.
public protocol PodResourcesSource: Sendable {
    /// The device IDs of `resourceName` that the kubelet assigned to the containers of pod `namespace/name` on
    /// this node; empty when the pod holds none or is not on this node.
    func deviceIDs(namespace: String, name: String, resourceName: String) async throws(KubernetesError) -> [String]
}

extension PodResourcesSource {
    /// Throws ``KubernetesError/Code/notFound`` unless the kubelet reports devices of `resourceName` for pod
    /// `namespace/name`: a reservation alone does not prove the kubelet admitted the pod on `nodeName`.
    public func confirmAdmitted(namespace: String, name: String, resourceName: String, on nodeName: String) async throws(KubernetesError) {
        let ids = try await deviceIDs(namespace: namespace, name: name, resourceName: resourceName)
        guard !ids.isEmpty else {
            throw KubernetesError(.notFound, "the kubelet reports no \(resourceName) devices for pod \(namespace)/\(name) on node \(nodeName)")
        }
    }
}
