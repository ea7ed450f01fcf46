import Foundation
import Testing
import TesseraKubernetes
import TesseraNode
import TesseraNodeAgent
import TesseraPlacement
import TesseraPoolAPI
import TesseraTestSupport

/// Many pods bound to one node at the same moment each get exactly their own vGPUs: the reservation is keyed by
/// the pod's UID, and a program's pod is read from its cgroup, so no "oldest pending pod" guess exists to race.
@Suite struct AdmissionRaceTests {
    /// Both where reservations live: in the extender's process, and in the controller (reached over HTTP, whose
    /// state machine is then the one refusing double bookings).
    @Test(arguments: Backend.allCases)
    func aThousandPodsBoundConcurrentlyToOneNodeEachGetTheirOwnVGPUs(backend: Backend) async throws {
        let count = 1000
        // 16 GPUs × 100 % holds 1,600 one-percent vGPUs; memory sizes differ per pod so a swap would show.
        let node = Fixtures.node("gpu-node", gpus: 16)
        try await Harness.with(nodes: [node], backend: backend) { h in
            let pods = (0..<count).map { i in
                Fixtures.pod("student-\(i)", uid: Fixtures.uid(1000 + i), memory: 64 + i, compute: 1)
            }
            for pod in pods { h.api.add(pod) }
            let errors = try await withThrowingTaskGroup(of: String.self) { group in
                for pod in pods {
                    group.addTask {
                        let (status, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "gpu-node"))
                        return status == 200 ? try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error : "HTTP \(status)"
                    }
                }
                return try await group.reduce(into: [String]()) { if !$1.isEmpty { $0.append($1) } }
            }
            #expect(errors.isEmpty, "\(errors.prefix(3))")
            #expect(h.api.bindings.count == count)

            // Every pod's programs resolve to that pod's reservation, whatever the order of admission.
            let procRoot = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-proc-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: procRoot) }
            let resolver = PodGrantResolver(nodeName: "gpu-node", reservations: h.reservations, procRoot: procRoot)
            for (i, pod) in pods.enumerated() {
                let pid = 40_000 + i
                let uid = pod.metadata.uid!
                let line = i.isMultiple(of: 2)
                    ? "0::/kubepods.slice/kubepods-guaranteed.slice/kubepods-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice/cri-containerd-\(i).scope\n"
                    : "11:memory:/kubepods/pod\(uid)/container-\(i)\n"
                try FileManager.default.createDirectory(atPath: "\(procRoot)/\(pid)", withIntermediateDirectories: true)
                try line.write(toFile: "\(procRoot)/\(pid)/cgroup", atomically: true, encoding: .utf8)
            }
            var usedMemory = [Int](repeating: 0, count: 16)
            var reservedGPU: [Int] = []
            for (i, pod) in pods.enumerated() {
                let grant = try await resolver.grant(forProcess: Int32(40_000 + i))
                #expect(grant.podUID == pod.metadata.uid && grant.podName == pod.metadata.name)
                #expect(grant.memoryMiBPerVGPU == 64 + i && grant.vgpuCount == 1)
                usedMemory[grant.gpuIndices[0]] += grant.memoryMiBPerVGPU
                reservedGPU.append(grant.gpuIndices[0])
            }
            if backend == .controller {
                // The node's own path (`tessera node --pod-reservations`, on its session threads): every process
                // claims exactly its pod's reservation — its GPU and size, whatever it asks for.
                let client = ControllerClient(baseURL: h.controllerURL!, token: Harness.nodeToken)
                let placement = ControllerPlacement(
                    client: client, nodeName: "gpu-node", claims: PodReservationClaims(client: client, procRoot: procRoot))
                let inventory = (0..<16).map { GPUCapacity(index: $0, totalMemory: 80 << 30) }
                let reserved = reservedGPU
                let wrong = try await onOwnThread { () throws -> [String] in
                    var wrong: [String] = []
                    for i in 0..<count {
                        let asked = VirtualGPURequest(count: 1, memoryBytes: 1 << 30, computePercent: 100)
                        let peer = PeerIdentity(pid: 40_000 + i, uid: 0, gid: 0, address: "unix")
                        let placed = try placement.placeSession(asked, session: UInt64(i + 1), peer: peer, allowRemote: false, on: inventory)
                        if placed.local != [reserved[i]] || placed.granted?.memoryBytes != (64 + i) << 20 { wrong.append("student-\(i)") }
                    }
                    return wrong
                }
                #expect(wrong.isEmpty, "claimed another pod's vGPUs: \(wrong.prefix(3))")
                #expect(h.controller!.read { s in s.leases.count == count && s.reservations.values.allSatisfy { $0.claimedBy != nil } })
            }
            // The engine's books agree with the sum of the grants, GPU by GPU.
            let gpus = try #require(try await h.nodes().first).gpus
            #expect(gpus.enumerated().allSatisfy { $1.freeMemoryMiB == 81_920 - usedMemory[$0] })
            // A process outside any pod, or in a pod without a reservation, gets nothing.
            try FileManager.default.createDirectory(atPath: "\(procRoot)/1", withIntermediateDirectories: true)
            try "0::/system.slice/sshd.service\n".write(toFile: "\(procRoot)/1/cgroup", atomically: true, encoding: .utf8)
            await #expect(throws: KubernetesError.self) { try await resolver.grant(forProcess: 1) }
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentBindsNeverOvercommitANode(backend: Backend) async throws {
        // Room for exactly ten 10 % vGPUs; twenty pods race for it.
        try await Harness.with(nodes: [Fixtures.node("one-gpu", gpus: 1)], backend: backend) { h in
            let pods = (0..<20).map { Fixtures.pod("p\($0)", uid: Fixtures.uid(5000 + $0), memory: 1024, compute: 10) }
            for pod in pods { h.api.add(pod) }
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for pod in pods {
                    group.addTask {
                        let (_, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "one-gpu"))
                        return try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error.isEmpty
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 10)
            #expect(h.api.bindings.count == 10)
            #expect(try await h.nodes()[0].gpus[0].freeMilli == 0)
        }
    }
}
