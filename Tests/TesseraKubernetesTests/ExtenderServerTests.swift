import Foundation
import Testing
import TesseraKubernetes
import TesseraPlacement
import TesseraTestSupport

/// The extender over real HTTP, called with kube-scheduler's exact JSON, binding through the API stand-in.
@Suite struct ExtenderServerTests {
    static let nodes = [
        Fixtures.node("a100-1", gpus: 2), Fixtures.node("a100-2", gpus: 4),
        Fixtures.node("t4-1", gpus: 1, model: "T4", memoryMiB: 15_360),
    ]

    @Test(arguments: Backend.allCases)
    func filterKeepsNodesThatFitAndExplainsTheOthers(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            let pod = Fixtures.pod("big", uid: Fixtures.uid(1), vgpus: 2, memory: 20_000, compute: 50)
            let (status, body) = try await h.post("filter", Fixtures.argsWithNames(pod, ["a100-1", "a100-2", "t4-1", "cpu-9"]))
            #expect(status == 200)
            let result = try JSONDecoder().decode(ExtenderFilterResult.self, from: body)
            #expect(result.error == "")
            #expect(result.nodeNames == ["a100-1", "a100-2"])
            #expect(result.failedNodes["t4-1"]?.contains("2 vGPU(s) of 20000 MiB") == true)
            #expect(result.failedAndUnresolvableNodes["cpu-9"] != nil)
            let raw = String(decoding: body, as: UTF8.self)
            #expect(raw.contains("\"NodeNames\"") && raw.contains("\"FailedNodes\""))
        }
    }

    @Test(arguments: Backend.allCases)
    func filterReturnsFullNodeObjectsWhenSentObjects(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            let pod = Fixtures.pod("t4", uid: Fixtures.uid(2), memory: 4096, annotations: ["tessera.dev/gpu-model": "T4"])
            let (status, body) = try await h.post("filter", Fixtures.argsWithNodes(pod, ["a100-1", "t4-1"]))
            #expect(status == 200)
            let result = try JSONDecoder().decode(ExtenderFilterResult.self, from: body)
            guard case .array(let items)? = result.nodes?["items"] else {
                Issue.record("no Nodes.items in \(String(decoding: body, as: UTF8.self))")
                return
            }
            #expect(items.count == 1)
            #expect(items.first?["metadata"]?["name"]?.stringValue == "t4-1")
            #expect(items.first?["status"]?["allocatable"]?["tessera.dev/vgpu"]?.stringValue == "16")  // verbatim
            #expect(result.failedNodes["a100-1"]?.contains("not in T4") == true)
        }
    }

    @Test(arguments: Backend.allCases)
    func prioritizeScoresZeroToTenFollowingThePolicy(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            // Occupy part of a100-1 so the policy has something to prefer.
            let first = Fixtures.pod("first", uid: Fixtures.uid(3), memory: 40_000, compute: 50)
            h.api.add(first)
            _ = try await h.post("bind", Fixtures.bindingArgs(first, node: "a100-1"))
            let pod = Fixtures.pod("next", uid: Fixtures.uid(4), memory: 8192, compute: 20)
            let (status, body) = try await h.post("prioritize", Fixtures.argsWithNames(pod, ["a100-1", "a100-2", "t4-1", "cpu-9"]))
            #expect(status == 200)
            let scores = try JSONDecoder().decode([HostPriority].self, from: body)
            #expect(scores.map(\.host) == ["a100-1", "a100-2", "t4-1", "cpu-9"])
            #expect(scores.allSatisfy { (0...10).contains($0.score) })
            #expect(scores[3].score == 0)
            let expected = h.reservations.scores(
                for: try #require(try VGPURequest(pod: pod)).placementRequest(), nodeNames: ["a100-1", "a100-2", "t4-1"])
            for (score, verdict) in zip(scores, expected) {
                #expect(score.score == Int64((verdict.score * 10).rounded()))
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func bindReservesUnderThePodUIDAndCreatesTheBinding(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            let pod = Fixtures.pod("alice", uid: Fixtures.uid(5), vgpus: 2, memory: 10_000, compute: 30)
            h.api.add(pod)
            let (status, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "a100-2"))
            #expect(status == 200)
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error == "")
            #expect(h.api.pod(pod.qualifiedName)?.spec.nodeName == "a100-2")
            let reservation = try #require(try await h.reservations.reservation(podUID: Fixtures.uid(5)))
            #expect(reservation.nodeName == "a100-2" && reservation.bound)
            #expect(reservation.vgpuCount == 2 && Set(reservation.gpuIndices).count == 2)
            #expect(reservation.memoryMiBPerVGPU == 10_000 && reservation.computePercentPerVGPU == 30)
            let node = try #require(try await h.nodes().first { $0.name == "a100-2" })
            let freeMemory = node.gpus.map(\.freeMemoryMiB).reduce(0, +)
            #expect(freeMemory == 4 * 81_920 - 20_000)
        }
    }

    @Test(arguments: Backend.allCases)
    func bindRefusesAReplacedPodAndLeaksNothing(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            let pod = Fixtures.pod("bob", uid: Fixtures.uid(6))
            h.api.add(Fixtures.pod("bob", uid: Fixtures.uid(7)))  // re-created under the same name
            let (_, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "a100-1"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error.contains("UID"))
            #expect(try await h.reservations.reservations().isEmpty)
            #expect(h.api.bindings.isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func aFailedBindingReleasesTheReservation(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            var pod = Fixtures.pod("carol", uid: Fixtures.uid(8))
            pod.spec.nodeName = "elsewhere"  // already bound: the API server answers 409
            h.api.add(pod)
            let before = try await h.nodes()
            let (_, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "a100-1"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error.contains("409"))
            #expect(try await h.reservations.reservations().isEmpty)
            #expect(try await h.nodes() == before)
        }
    }

    @Test(arguments: Backend.allCases)
    func bindRefusesWhatNoLongerFits(backend: Backend) async throws {
        try await Harness.with(nodes: [Fixtures.node("small", gpus: 1, memoryMiB: 8192)], backend: backend) { h in
            let first = Fixtures.pod("first", uid: Fixtures.uid(9), memory: 6000, compute: 50)
            let second = Fixtures.pod("second", uid: Fixtures.uid(10), memory: 6000, compute: 50)
            h.api.add(first)
            h.api.add(second)
            let (_, one) = try await h.post("bind", Fixtures.bindingArgs(first, node: "small"))
            let (_, two) = try await h.post("bind", Fixtures.bindingArgs(second, node: "small"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: one).error == "")
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: two).error.contains("can no longer host"))
            #expect(h.api.pod(second.qualifiedName)?.spec.nodeName == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func malformedRequestsGetAClearError(backend: Backend) async throws {
        try await Harness.with(nodes: Self.nodes, backend: backend) { h in
            let (status, body) = try await h.post("filter", #"{"Pod":{"metadata":"#)
            #expect(status == 400)
            #expect(!body.isEmpty)
            let bad = Fixtures.pod("bad", uid: Fixtures.uid(11), compute: 400)
            let (okStatus, result) = try await h.post("filter", Fixtures.argsWithNames(bad, ["a100-1"]))
            #expect(okStatus == 200)
            #expect(try JSONDecoder().decode(ExtenderFilterResult.self, from: result).error.contains("compute"))
        }
    }

    @Test(arguments: Backend.allCases)
    func reconciliationReleasesGoneFinishedAndNeverBoundPods(backend: Backend) async throws {
        let configuration = ExtenderConfiguration(unboundGraceSeconds: 60)
        try await Harness.with(nodes: Self.nodes, backend: backend, configuration: configuration) { h in
            let gone = Fixtures.pod("gone", uid: Fixtures.uid(20))
            var finished = Fixtures.pod("finished", uid: Fixtures.uid(21))
            let kept = Fixtures.pod("kept", uid: Fixtures.uid(22))
            var moved = Fixtures.pod("moved", uid: Fixtures.uid(24))
            for pod in [gone, finished, kept, moved] {
                h.api.add(pod)
                _ = try await h.post("bind", Fixtures.bindingArgs(pod, node: "a100-2"))
            }
            let stray = Fixtures.pod("stray", uid: Fixtures.uid(23))
            h.api.add(stray)
            _ = try await h.reservations.reserve(
                try #require(try VGPURequest(pod: stray)), podUID: Fixtures.uid(23), podNamespace: "students",
                podName: "stray", on: "a100-1", now: Date().timeIntervalSince1970 - 120)
            h.api.delete(gone.qualifiedName)
            finished.spec.nodeName = "a100-2"
            finished.status?.phase = "Succeeded"
            h.api.add(finished)
            moved.spec.nodeName = "a100-1"  // bound to another node than its reservation's
            h.api.add(moved)
            // Two minutes on: past the grace period of the never-bound "stray" (reserved now in a controller).
            let released = try await h.extender.reconcile(now: Date().timeIntervalSince1970 + 120)
            #expect(Set(released.map(\.podName)) == ["gone", "finished", "stray", "moved"])
            #expect(try await h.reservations.reservations().map(\.podName) == ["kept"])
            // What was released is free again: only "kept" holds capacity.
            let held = try await h.nodes().flatMap(\.gpus).map { $0.memoryMiB - $0.freeMemoryMiB }.reduce(0, +)
            #expect(held == 4096)
        }
    }
}
