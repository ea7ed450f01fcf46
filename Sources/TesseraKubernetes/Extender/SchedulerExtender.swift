import Foundation
import Logging
import TesseraPlacement

/// The scheduler extender's decisions, independent of HTTP: filter, prioritize and bind as kube-scheduler
/// calls them, backed by a ``ReservationService`` and the Kubernetes API.
public struct SchedulerExtender: Sendable {
    public let configuration: ExtenderConfiguration
    public let reservations: any ReservationService
    public let kubernetes: KubernetesClient
    let logger: Logger

    public init(
        configuration: ExtenderConfiguration = .init(), reservations: any ReservationService,
        kubernetes: KubernetesClient, logger: Logger
    ) {
        self.configuration = configuration
        self.reservations = reservations
        self.kubernetes = kubernetes
        self.logger = logger
    }

    /// The pod's vGPU request (`nil`: the pod asks for none).
    public func request(of pod: Pod) throws(KubernetesError) -> VGPURequest? {
        try VGPURequest(
            pod: pod, names: configuration.names, defaultMemoryMiB: configuration.defaultMemoryMiB,
            defaultComputePercent: configuration.defaultComputePercent)
    }

    /// Keeps the candidates whose GPUs can host every vGPU of the pod; gives the reason for each other one.
    public func filter(_ args: ExtenderArgs) -> ExtenderFilterResult {
        let candidates = args.candidateNames
        let vgpuRequest: VGPURequest?
        let placementRequest: PlacementRequest
        do throws(KubernetesError) {
            vgpuRequest = try request(of: args.pod)
            guard let vgpuRequest else { return passThrough(args, keeping: Set(candidates)) }
            placementRequest = try vgpuRequest.placementRequest()
        } catch {
            return ExtenderFilterResult(nodes: args.nodes == nil ? nil : .null, nodeNames: args.nodeNames == nil ? nil : [], error: error.message)
        }
        // Verdicts come in the candidates' order, so the kept names need no set.
        let verdicts = reservations.scores(for: placementRequest, nodeNames: candidates)
        var kept: [String] = []
        kept.reserveCapacity(verdicts.count)
        var rejected: [String] = []
        for verdict in verdicts {
            if verdict.fits { kept.append(verdict.nodeName) } else { rejected.append(verdict.nodeName) }
        }
        var failed: [String: String] = [:]
        var unresolvable: [String: String] = [:]
        failed.reserveCapacity(rejected.count)
        for (name, reason) in zip(rejected, reservations.rejections(of: vgpuRequest!, on: rejected)) {
            if let reason { failed[name] = reason } else { unresolvable[name] = "node has no Tessera GPUs" }
        }
        var result = args.nodeNames != nil ? ExtenderFilterResult(nodeNames: kept) : passThrough(args, keeping: Set(kept))
        result.failedNodes = failed
        result.failedAndUnresolvableNodes = unresolvable
        return result
    }

    /// Scores each candidate 0…10 by the placement policy; candidates that do not fit score 0.
    public func prioritize(_ args: ExtenderArgs) -> [HostPriority] {
        let candidates = args.candidateNames
        guard let vgpuRequest = try? request(of: args.pod), let placementRequest = try? vgpuRequest.placementRequest() else {
            return candidates.map { HostPriority(host: $0, score: 0) }
        }
        return reservations.scores(for: placementRequest, nodeNames: candidates).map {
            HostPriority(host: $0.nodeName, score: $0.fits ? Int64(($0.score * 10).rounded()).clamped(to: 0...10) : 0)
        }
    }

    /// Reserves the pod's capacity on the chosen node under its UID, then creates the Binding. If the Binding
    /// cannot be created the reservation is released, so no capacity leaks.
    public func bind(_ args: ExtenderBindingArgs) async -> ExtenderBindingResult {
        do throws(KubernetesError) {
            let pod = try await kubernetes.pod(namespace: args.podNamespace, name: args.podName)
            guard pod.metadata.uid == args.podUID else {
                throw KubernetesError(.conflict, "pod \(args.podNamespace)/\(args.podName) now has UID \(pod.metadata.uid ?? "none"), not \(args.podUID)")
            }
            var reserved = false
            if let vgpuRequest = try request(of: pod) {
                let reservation = try await reservations.reserve(
                    vgpuRequest, podUID: args.podUID, podNamespace: args.podNamespace, podName: args.podName,
                    podLabels: pod.metadata.labels ?? [:], on: args.node, now: Date().timeIntervalSince1970)
                reserved = true
                logger.debug("reserved", metadata: ["pod": "\(pod.qualifiedName)", "node": "\(args.node)", "gpus": "\(reservation.gpuIndices)"])
            }
            do throws(KubernetesError) {
                try await kubernetes.bind(namespace: args.podNamespace, name: args.podName, uid: args.podUID, node: args.node)
            } catch {
                if reserved { _ = try? await reservations.release(podUID: args.podUID) }
                throw error
            }
            if reserved { try await reservations.markBound(podUID: args.podUID) }
            return ExtenderBindingResult()
        } catch {
            logger.notice("bind failed", metadata: ["pod": "\(args.podNamespace)/\(args.podName)", "error": "\(error.message)"])
            return ExtenderBindingResult(error: error.message)
        }
    }

    /// Releases reservations whose pod is gone, finished, bound to another node, or still unbound after the
    /// grace period. Returns the released reservations.
    @discardableResult
    public func reconcile(now: Double) async throws(KubernetesError) -> [PodReservation] {
        let held = try await reservations.reservations()
        guard !held.isEmpty else { return [] }
        let pods = try await kubernetes.pods()
        var live: [String: Pod] = [:]
        for pod in pods { if let uid = pod.metadata.uid { live[uid] = pod } }
        var released: [PodReservation] = []
        for reservation in held {
            let stale: Bool
            if let pod = live[reservation.podUID] {
                let finished = pod.status?.phase == "Succeeded" || pod.status?.phase == "Failed"
                let node = pod.spec.nodeName ?? ""
                let unbound = node.isEmpty && now - reservation.createdAt > configuration.unboundGraceSeconds
                // Bound by someone else to another node: the capacity held here serves nobody.
                let elsewhere = !node.isEmpty && node != reservation.nodeName
                stale = finished || unbound || elsewhere
            } else {
                // A reservation younger than the grace period may belong to a pod the list has not caught up with.
                stale = reservation.bound || now - reservation.createdAt > configuration.unboundGraceSeconds
            }
            if stale, let gone = try await reservations.release(podUID: reservation.podUID) {
                released.append(gone)
            }
        }
        if !released.isEmpty { logger.info("released stale reservations", metadata: ["count": "\(released.count)"]) }
        return released
    }

    private func passThrough(_ args: ExtenderArgs, keeping kept: Set<String>) -> ExtenderFilterResult {
        if let nodeNames = args.nodeNames {
            return ExtenderFilterResult(nodeNames: nodeNames.filter { kept.contains($0) })
        }
        guard case .object(var list)? = args.nodes, case .array(let items)? = list["items"] else {
            return ExtenderFilterResult(nodes: args.nodes)
        }
        list["items"] = .array(items.filter { $0["metadata"]?["name"]?.stringValue.map(kept.contains) ?? false })
        return ExtenderFilterResult(nodes: .object(list))
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
