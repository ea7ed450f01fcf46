import Foundation
import Testing
import TesseraKubernetes
import TesseraNode
import TesseraNodeAgent
import TesseraPlacement
import TesseraPoolAPI
import TesseraTestSupport

/// The node's side in Kubernetes mode, against a real controller: a process is mapped to its pod by its cgroup
/// file and gets that pod's reservation (claimed in the controller), sized by the reservation whatever it asks;
/// processes of other pods, or of none, are refused with the reason.
@Suite struct PodReservationClaimsTests {
    static let gib = 1 << 30

    /// A `/proc` of the test's own making: `<pid>/cgroup` for this (real) test process.
    static func procRoot(cgroup: String) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-proc-\(UUID())").path
        try FileManager.default.createDirectory(atPath: "\(root)/\(getpid())", withIntermediateDirectories: true)
        try cgroup.write(toFile: "\(root)/\(getpid())/cgroup", atomically: true, encoding: .utf8)
        return root
    }

    static func podCgroup(_ uid: String) -> String {
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-1.scope\n"
    }

    static func placement(_ h: Harness, procRoot: String) -> ControllerPlacement {
        let client = ControllerClient(baseURL: h.controllerURL!, token: Harness.nodeToken)
        return ControllerPlacement(client: client, nodeName: "gpu-node", claims: PodReservationClaims(client: client, procRoot: procRoot))
    }

    static let me = PeerIdentity(pid: Int(getpid()), uid: Int(getuid()), gid: Int(getgid()), address: "unix")
    static let inventory = [GPUCapacity(index: 0, totalMemory: 80 * gib), GPUCapacity(index: 1, totalMemory: 80 * gib)]

    @Test func aProcessGetsItsPodsReservationWhateverItAsks() async throws {
        try await Harness.with(nodes: [Fixtures.node("gpu-node", gpus: 2)], backend: .controller) { h in
            let pod = Fixtures.pod("alice", uid: Fixtures.uid(41), memory: 2048, compute: 25,
                                   annotations: ["tessera.dev/compute-mode": "limit"])
            h.api.add(pod)
            let (_, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "gpu-node"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error == "")
            let reservation = try #require(try await h.reservations.reservation(podUID: Fixtures.uid(41)))
            let root = try Self.procRoot(cgroup: Self.podCgroup(Fixtures.uid(41)))
            defer { try? FileManager.default.removeItem(atPath: root) }
            let placement = Self.placement(h, procRoot: root)

            // The node calls the controller synchronously (from a session thread); so does this, off the pool.
            try await onOwnThread {
                // The program's environment asks for a whole GPU's memory and compute, unlimited: it gets the pod's.
                let greedy = VirtualGPURequest(count: 1, memoryBytes: 64 * Self.gib, computePercent: 100, computeMode: .share)
                let admission = try placement.placeSession(greedy, session: 7, peer: Self.me, allowRemote: false, on: Self.inventory)
                #expect(admission.local == reservation.gpuIndices)
                #expect(admission.granted == VirtualGPURequest(count: 1, memoryBytes: 2048 << 20, computePercent: 25, computeMode: .limit))
                let lease = try #require(placement.sessionLeases[7])
                #expect(h.controller!.read { $0.reservations[reservation.controllerID!]?.claimedBy } == lease)
                #expect(h.controller!.read { $0.leases.count } == 1)  // claimed, not placed anew

                // While claimed, a second program of the pod is refused (one program at a time holds the vGPUs).
                #expect(throws: PlacementError.self) {
                    try placement.placeSession(greedy, session: 8, peer: Self.me, allowRemote: false, on: Self.inventory)
                }
                // When the program's lease ends, the reservation is the pod's again.
                try placement.client.blocking.delete("/v1/leases/\(lease)")
                #expect(h.controller!.read { $0.reservations[reservation.controllerID!]?.claimedBy } == .some(nil))
                // More vGPUs than the pod reserved cannot be had.
                let more = VirtualGPURequest(count: 2, memoryBytes: 1 << 20, computePercent: 1)
                #expect(throws: PlacementError("students/alice reserved 1 vGPU(s) on gpu-node; the program asks for 2")) {
                    try placement.placeSession(more, session: 9, peer: Self.me, allowRemote: false, on: Self.inventory)
                }

            }
        }
    }

    @Test func processesOfOtherPodsOrOfNoneAreRefusedWithTheReason() async throws {
        try await Harness.with(nodes: [Fixtures.node("gpu-node", gpus: 2)], backend: .controller) { h in
            let request = VirtualGPURequest(count: 1, memoryBytes: 1 << 20, computePercent: 1)
            let stranger = try Self.procRoot(cgroup: Self.podCgroup(Fixtures.uid(42)))
            let outside = try Self.procRoot(cgroup: "0::/system.slice/sshd.service\n")
            let bobs = try Self.procRoot(cgroup: Self.podCgroup(Fixtures.uid(43)))
            defer {
                for root in [stranger, outside, bobs] { try? FileManager.default.removeItem(atPath: root) }
            }
            // The node calls the controller synchronously (from a session thread); so does this, off the pool.
            try await onOwnThread {
                #expect(throws: PlacementError("pod \(Fixtures.uid(42)) holds no vGPU reservation on node gpu-node")) {
                    try Self.placement(h, procRoot: stranger).placeSession(request, session: 1, peer: Self.me, allowRemote: false, on: Self.inventory)
                }
                #expect(throws: PlacementError.self) {
                    try Self.placement(h, procRoot: outside).placeSession(request, session: 2, peer: Self.me, allowRemote: false, on: Self.inventory)
                }

            }
            // A pod with a reservation on another node gets nothing here either.
            let elsewhere = Fixtures.pod("bob", uid: Fixtures.uid(43))
            _ = try await h.reservations.reserve(
                try #require(try VGPURequest(pod: elsewhere)), podUID: Fixtures.uid(43), podNamespace: "students", podName: "bob",
                on: "gpu-node", now: 0)
            // The node calls the controller synchronously (from a session thread); so does this, off the pool.
            try await onOwnThread {
                let other = ControllerPlacement(
                    client: ControllerClient(baseURL: h.controllerURL!, token: Harness.nodeToken), nodeName: "other-node",
                    claims: PodReservationClaims(client: ControllerClient(baseURL: h.controllerURL!, token: Harness.nodeToken),
                                                 procRoot: bobs))
                #expect(throws: PlacementError.self) {
                    try other.placeSession(request, session: 3, peer: Self.me, allowRemote: false, on: Self.inventory)
                }
                #expect(h.controller!.read { $0.leases.isEmpty })
                // A TCP peer is no pod of this node: it may only attach to other nodes' leases, never be placed
                // anew around the pods' reservations.
                let tcp = PeerIdentity(pid: -1, uid: -1, gid: -1, address: "10.0.0.9:5000")
                #expect(throws: PlacementError.self) {
                    _ = try Self.placement(h, procRoot: outside).placeSession(request, session: 4, peer: tcp, allowRemote: false, on: Self.inventory)
                }

            }
        }
    }
}
