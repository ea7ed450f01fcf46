import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Testing
import TesseraController
import TesseraKubernetes
import TesseraPlacement
import TesseraPoolAPI
import TesseraTestSupport

/// The extender with its reservations in a real controller over HTTP: the controller is the single source of
/// truth, so a second replica or a restarted extender sees every reservation and can never double-book.
@Suite struct ControllerReservationsTests {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    /// Another extender replica (or this one restarted): its own mirror, the same controller.
    static func replica(_ h: Harness) async throws -> ControllerReservations {
        let replica = ControllerReservations(
            client: ControllerClient(baseURL: h.controllerURL!, token: Harness.schedulerToken), logger: logger)
        try await replica.refresh()
        return replica
    }

    @Test func bindReservesInTheControllerUnderThePodAndAReplicaSeesIt() async throws {
        try await Harness.with(nodes: ExtenderServerTests.nodes, backend: .controller) { h in
            let pod = Fixtures.pod("alice", uid: Fixtures.uid(31), vgpus: 2, memory: 8192, compute: 30)
            h.api.add(pod)
            let (_, body) = try await h.post("bind", Fixtures.bindingArgs(pod, node: "a100-2"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error == "")
            // In the controller: consumer pod/<UID>, the pod's name, pinned to the node, held (bound: no expiry).
            let held = try #require(h.controller!.read { $0.reservations(of: "pod/\(Fixtures.uid(31))") }.first)
            #expect(held.displayName == "students/alice" && held.persistent && held.expiresAt == nil)
            #expect(held.spec.node == "a100-2" && held.vgpus.allSatisfy { $0.node == "a100-2" })
            #expect(Set(held.vgpus.map(\.gpu)).count == 2)  // spread: distinct GPUs
            // A replica that never saw the bind knows the reservation and the capacity it takes.
            let replica = try await Self.replica(h)
            let seen = try #require(try await replica.reservation(podUID: Fixtures.uid(31)))
            #expect(seen.podName == "alice" && seen.podNamespace == "students" && seen.nodeName == "a100-2")
            #expect(seen.bound && seen.controllerID == held.id && seen.gpuIndices == held.vgpus.map(\.gpu))
            let free = try #require(replica.nodes.first { $0.name == "a100-2" }).gpus.map(\.freeMemoryMiB).reduce(0, +)
            #expect(free == 4 * 81_920 - 2 * 8192)
            // Reserving the same pod again through the replica is the same reservation, not a second one.
            let request = try #require(try VGPURequest(pod: pod))
            let again = try await replica.reserve(request, podUID: Fixtures.uid(31), podNamespace: "students", podName: "alice", on: "a100-2", now: 0)
            #expect(again.controllerID == held.id)
            #expect(h.controller!.read { $0.reservations.count } == 1)
            // The same pod on another node is refused.
            await #expect(throws: KubernetesError.self) {
                try await replica.reserve(request, podUID: Fixtures.uid(31), podNamespace: "students", podName: "alice", on: "a100-1", now: 0)
            }
        }
    }

    @Test func theExtenderIsReadyOnceItKnowsThePoolsCapacity() async throws {
        try await Harness.with(nodes: ExtenderServerTests.nodes, backend: .controller) { h in
            let fresh = ControllerReservations(
                client: ControllerClient(baseURL: h.controllerURL!, token: Harness.schedulerToken), logger: Self.logger)
            #expect(!fresh.isReady && fresh.nodes.isEmpty)
            try await fresh.refresh()
            #expect(fresh.isReady && fresh.nodes.map(\.name).sorted() == ["a100-1", "a100-2", "t4-1"])
            let health = URL(string: h.extenderURL.replacingOccurrences(of: "/tessera", with: "/healthz"))!
            let (_, response) = try await Harness.session.data(from: health)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            // A wrong token is refused by the controller: the mirror stays as it was and says why.
            let wrong = ControllerReservations(client: ControllerClient(baseURL: h.controllerURL!, token: "nope"), logger: Self.logger)
            await #expect(throws: KubernetesError.self) { try await wrong.refresh() }
            #expect(!wrong.isReady)
        }
    }

    @Test func aReplicaWithAStaleMirrorCannotDoubleBook() async throws {
        try await Harness.with(nodes: [Fixtures.node("small", gpus: 1, memoryMiB: 8192)], backend: .controller) { h in
            let stale = try await Self.replica(h)  // mirrors the node empty
            let first = Fixtures.pod("first", uid: Fixtures.uid(32), memory: 6000, compute: 50)
            let second = Fixtures.pod("second", uid: Fixtures.uid(33), memory: 6000, compute: 50)
            h.api.add(first)
            h.api.add(second)
            let (_, one) = try await h.post("bind", Fixtures.bindingArgs(first, node: "small"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: one).error == "")
            // The stale replica still believes the node fits the second pod…
            let request = try #require(try VGPURequest(pod: second)).placementRequest()
            #expect(stale.scores(for: request, nodeNames: ["small"])[0].fits)
            // …but its bind goes through the controller, which refuses; no Binding is created.
            let staleExtender = SchedulerExtender(reservations: stale, kubernetes: h.extender.kubernetes, logger: Self.logger)
            let result = await staleExtender.bind(ExtenderBindingArgs(podName: "second", podNamespace: "students", podUID: Fixtures.uid(33), node: "small"))
            #expect(result.error.contains("can no longer host"))
            #expect(h.api.pod(second.qualifiedName)?.spec.nodeName == nil)
            #expect(h.controller!.read { $0.reservations.count } == 1)
            // After its refresh the replica's filter agrees.
            try await stale.refresh()
            #expect(!stale.scores(for: request, nodeNames: ["small"])[0].fits)
        }
    }

    @Test func annotationsCarryModelComputeModeAndPackingIntoTheReservation() async throws {
        try await Harness.with(nodes: ExtenderServerTests.nodes, backend: .controller) { h in
            let packed = Fixtures.pod(
                "packed", uid: Fixtures.uid(34), vgpus: 2, memory: 2048, compute: 20,
                annotations: ["tessera.dev/vgpu-placement": "pack", "tessera.dev/compute-mode": "limit", "tessera.dev/gpu-model": "A100"])
            h.api.add(packed)
            let (_, filtered) = try await h.post("filter", Fixtures.argsWithNames(packed, ["a100-1", "a100-2", "t4-1"]))
            let kept = try JSONDecoder().decode(ExtenderFilterResult.self, from: filtered)
            #expect(kept.nodeNames == ["a100-1", "a100-2"])
            #expect(kept.failedNodes["t4-1"]?.contains("not in A100") == true)
            let (_, body) = try await h.post("bind", Fixtures.bindingArgs(packed, node: "a100-1"))
            #expect(try JSONDecoder().decode(ExtenderBindingResult.self, from: body).error == "")
            let held = try #require(h.controller!.read { $0.reservations(of: "pod/\(Fixtures.uid(34))") }.first)
            #expect(held.spec.computeMode == "limit" && held.spec.sameGPU && held.spec.allowedModels == ["A100"])
            #expect(held.vgpus.count == 2 && Set(held.vgpus.map(\.gpu)).count == 1)
            let seen = try #require(try await h.reservations.reservation(podUID: Fixtures.uid(34)))
            #expect(seen.computeMode == "limit")
            // A malformed compute mode is a filter error naming the annotation.
            let bad = Fixtures.pod("bad", uid: Fixtures.uid(35), annotations: ["tessera.dev/compute-mode": "turbo"])
            let (_, badBody) = try await h.post("filter", Fixtures.argsWithNames(bad, ["a100-1"]))
            #expect(try JSONDecoder().decode(ExtenderFilterResult.self, from: badBody).error.contains("tessera.dev/compute-mode"))
        }
    }

    @Test func anUnboundReservationCarriesItsTimeToLive() async throws {
        try await Harness.with(nodes: ExtenderServerTests.nodes, backend: .controller, configuration: .init(unboundGraceSeconds: 45)) { h in
            let pod = Fixtures.pod("waiting", uid: Fixtures.uid(36))
            let before = Date().timeIntervalSince1970
            let reservation = try await h.reservations.reserve(
                try #require(try VGPURequest(pod: pod)), podUID: Fixtures.uid(36), podNamespace: "students", podName: "waiting",
                on: "a100-1", now: before)
            #expect(!reservation.bound)
            let held = try #require(h.controller!.read { $0.reservations(of: "pod/\(Fixtures.uid(36))") }.first)
            // The controller lets it lapse by itself when no bind follows (its sweep), even if every extender is gone.
            let expiresAt = try #require(held.expiresAt)
            #expect(expiresAt >= before + 45 && expiresAt <= Date().timeIntervalSince1970 + 45)
            try await h.reservations.markBound(podUID: Fixtures.uid(36))
            #expect(h.controller!.read { $0.reservations[held.id]?.expiresAt } == .some(nil))
        }
    }

    @Test func tokensAreScopedToTheirRole() async throws {
        try await Harness.with(nodes: ExtenderServerTests.nodes, backend: .controller) { h in
            let url = h.controllerURL!
            let scheduler = ControllerClient(baseURL: url, token: Harness.schedulerToken)
            let node = ControllerClient(baseURL: url, token: Harness.nodeToken)
            let request = ReservationRequest(consumer: "pod/x", spec: VirtualGPUSpec(node: "a100-1"))
            // The scheduler may reserve and release, and read the pool, but not grant leases.
            let r: Reservation = try await scheduler.post("/v1/reservations", request)
            let byConsumer: [Reservation] = try await scheduler.get("/v1/reservations?consumer=pod%2Fx")
            #expect(byConsumer.map(\.id) == [r.id])
            await #expect(throws: PoolError.self) {
                let _: Lease = try await scheduler.post("/v1/leases", LeaseRequest(spec: VirtualGPUSpec(), requester: "a100-1"))
            }
            // A node may look a pod's reservation up but not take or release one.
            let seen: [Reservation] = try await node.get("/v1/reservations?consumer=pod%2Fx")
            #expect(seen.count == 1)
            await #expect(throws: PoolError.self) {
                let _: Reservation = try await node.post("/v1/reservations", request)
            }
            await #expect(throws: PoolError.self) { try await node.delete("/v1/reservations/\(r.id)") }
            try await scheduler.delete("/v1/reservations/\(r.id)")
            #expect(h.controller!.read { $0.reservations.isEmpty })
        }
    }
}
