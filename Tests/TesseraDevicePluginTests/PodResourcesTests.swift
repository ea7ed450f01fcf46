import Foundation
import Testing
import TesseraDevicePlugin
import TesseraKubernetes
import TesseraPlacement
import TesseraTestSupport

/// The pod-resources client against the kubelet stand-in, and the grant resolver's extra check with it.
@Suite struct PodResourcesTests {
    static func container(_ name: String, _ devices: [(String, [String])]) -> V1_ContainerResources {
        .with {
            $0.name = name
            $0.devices = devices.map { resource, ids in .with { $0.resourceName = resource; $0.deviceIds = ids } }
        }
    }

    static func pod(_ namespace: String, _ name: String, _ containers: [V1_ContainerResources]) -> V1_PodResources {
        .with { $0.namespace = namespace; $0.name = name; $0.containers = containers }
    }

    /// Two pods with Tessera devices (one in two containers), one with another vendor's GPU only.
    static let pods = [
        pod("students", "alice", [
            container("notebook", [("tessera.dev/vgpu", ["tessera-g0-v0", "tessera-g1-v0"]), ("nvidia.com/gpu", ["GPU-1"])]),
            container("sidecar", []),
        ]),
        pod("students", "bob", [container("train", [("nvidia.com/gpu", ["GPU-2"])])]),
        pod("research", "carol", [
            container("b", [("tessera.dev/vgpu", ["tessera-g1-v2"])]),
            container("a", [("tessera.dev/vgpu", ["tessera-g0-v2"])]),
        ]),
    ]

    @Test func listsThePodsHoldingTesseraDevices() async throws {
        let directory = try KubeletDirectory()
        let client = PodResourcesClient(configuration: DevicePluginConfiguration(kubeletDirectory: directory.path), timeout: .seconds(60))
        try await withKubelet(directory.path, podResources: Self.pods) { kubelet in
            let pods = try await client.pods(holding: "tessera.dev/vgpu")
            #expect(pods == [
                .init(namespace: "students", name: "alice", containers: ["notebook": ["tessera-g0-v0", "tessera-g1-v0"]]),
                .init(namespace: "research", name: "carol", containers: ["b": ["tessera-g1-v2"], "a": ["tessera-g0-v2"]]),
            ])
            #expect(try await client.deviceIDs(namespace: "research", name: "carol", resourceName: "tessera.dev/vgpu")
                    == ["tessera-g0-v2", "tessera-g1-v2"])
            #expect(try await client.deviceIDs(namespace: "students", name: "bob", resourceName: "tessera.dev/vgpu") == [])
            #expect(try await client.deviceIDs(namespace: "students", name: "nobody", resourceName: "tessera.dev/vgpu") == [])
            #expect(try await client.deviceIDs(namespace: "students", name: "bob", resourceName: "nvidia.com/gpu") == ["GPU-2"])
            #expect(kubelet.record.withLock { $0.listCalls } == 5)
        }
        // No kubelet: a clear upstream error.
        let error = await #expect(throws: KubernetesError.self) {
            _ = try await client.pods(holding: "tessera.dev/vgpu")
        }
        #expect(error?.code == .upstream)
        #expect(error?.message.contains("pod-resources") == true)
    }

    @Test func grantNeedsTheKubeletToConfirmThePodsDevices() async throws {
        let directory = try KubeletDirectory()
        // A /proc with two processes, each in a pod's cgroup (systemd driver naming).
        let proc = "\(directory.path)/proc"
        let aliceUID = "4c0f9a2e-1b7d-4e35-9a61-000000000001", bobUID = "4c0f9a2e-1b7d-4e35-9a61-000000000002"
        for (pid, uid) in [(101, aliceUID), (102, bobUID)] {
            try FileManager.default.createDirectory(atPath: "\(proc)/\(pid)", withIntermediateDirectories: true)
            let slice = "kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
            try "0::/kubepods.slice/kubepods-burstable.slice/\(slice)/cri-containerd-abc.scope\n"
                .write(toFile: "\(proc)/\(pid)/cgroup", atomically: true, encoding: .utf8)
        }
        let reservations = try InProcessReservations(nodes: [
            PlacementNode(name: "gpu-node-1", cpuMilli: 64_000, memoryMiB: 262_144, gpus: [GPU(model: "A100", memoryMiB: 81_920)])
        ])
        for (uid, name) in [(aliceUID, "alice"), (bobUID, "bob")] {
            let limits = ["tessera.dev/vgpu": "1", "tessera.dev/vgpu-memory": "4096", "tessera.dev/vgpu-compute": "25"]
            let pod = Pod(metadata: .init(name: name, namespace: "students", uid: uid),
                          spec: .init(containers: [.init(name: "notebook", resources: .init(limits: limits))]))
            let request = try #require(try VGPURequest(pod: pod))
            _ = try await reservations.reserve(
                request, podUID: uid, podNamespace: "students", podName: name, on: "gpu-node-1", now: 0)
        }
        let client = PodResourcesClient(configuration: DevicePluginConfiguration(kubeletDirectory: directory.path), timeout: .seconds(60))
        let resolver = PodGrantResolver(nodeName: "gpu-node-1", reservations: reservations, procRoot: proc, podResources: client)
        try await withKubelet(directory.path, podResources: Self.pods) { _ in
            let grant = try await resolver.grant(forProcess: 101)
            #expect(grant.podUID == aliceUID && grant.podName == "alice" && grant.vgpuCount == 1)
            // Bob reserved capacity, but the kubelet admitted him with no Tessera device: nothing is granted.
            let error = await #expect(throws: KubernetesError.self) { _ = try await resolver.grant(forProcess: 102) }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("students/bob") == true)
        }
        // Without the pod-resources check the cgroup and reservation alone decide, as before.
        let plain = PodGrantResolver(nodeName: "gpu-node-1", reservations: reservations, procRoot: proc)
        #expect(try await plain.grant(forProcess: 102).podName == "bob")
    }
}
