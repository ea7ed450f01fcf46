import Logging
import ServiceLifecycle
import TesseraNode
import TesseraPoolAPI

/// Keeps a node in its pool: registers its GPUs, heartbeats usage and sessions, ends the leases of sessions
/// that are gone and the sessions whose leases the controller ended. A ServiceLifecycle `Service`.
public final class ControllerLink: Service, Sendable {
    public let node: Node
    public let placement: ControllerPlacement
    /// `HOST:PORT` to advertise; nil advertises the node's TCP listener, if any.
    public let advertise: String?
    public let interval: Double
    let logger: Logger

    public init(node: Node, placement: ControllerPlacement, advertise: String?, interval: Double = 1, logger: Logger) {
        self.node = node
        self.placement = placement
        self.advertise = advertise
        self.interval = interval
        self.logger = logger
    }

    var client: ControllerClient { placement.client }

    /// The node's registration document.
    public func registration() -> NodeRegistration {
        var endpoint = advertise
        if endpoint == nil, let listen = node.configuration.listen {
            endpoint = "\(listen.host):\(node.boundTCPPort.load(ordering: .acquiring))"
        }
        return NodeRegistration(name: placement.nodeName, endpoint: endpoint, gpus: node.backend.gpus.map {
            GPUDescription(index: $0.index, model: $0.name, memoryMiB: $0.totalMemory >> 20,
                           multiprocessors: $0.template.multiprocessorCount, uuid: ControllerLink.formatUUID($0.uuid))
        }, pageIdleAfterSeconds: node.status().pageIdleAfterMilliseconds.map { Double($0) / 1000 })
    }

    /// A GPU's 16 UUID bytes as NVIDIA prints them: `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`; nil unless 16 bytes.
    public static func formatUUID(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 16 else { return nil }
        let hex = bytes.map { b -> String in let h = String(b, radix: 16); return h.count == 1 ? "0" + h : h }
        let groups = [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }
        return "GPU-" + groups.joined(separator: "-")
    }

    public func run() async throws {
        var registered = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                if !registered && node.isListening {
                    let _: NodeInfo = try await client.post("/v1/nodes", registration())
                    registered = true
                    logger.info("registered with the controller at \(client.baseURL) as \(placement.nodeName)")
                }
                if registered, try await beat().registerAgain { registered = false }
            } catch {
                logger.warning("controller: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    /// One heartbeat: releases leases of ended sessions, reports the rest, ends sessions the pool disowned.
    public func beat() async throws(PoolError) -> HeartbeatReply {
        let status = node.status()
        // Sessions still connected, including ones being placed right now (their lease is already known).
        let live = node.sessionIDs()
        for (session, _) in placement.sessionLeases where !live.contains(session) {
            // Its own lease is released; an attached one is the program's home node's to release.
            if let lease = placement.forget(session: session) { try? await client.delete("/v1/leases/\(lease)") }
        }
        let leases = placement.sessionLeases
        let sessions = status.sessions.map { s in
            SessionReport(session: s.id, lease: leases[s.id], program: s.programName, pid: s.pid, uid: s.uid,
                          usedMemoryMiB: s.virtualGPUs.reduce(0) { $0 + $1.usedMemory } >> 20,
                          utilizationPercent: s.virtualGPUs.map { Double($0.utilizationBasisPoints) / 100 },
                          vgpus: s.virtualGPUs.map {
                              VGPUUsage(gpu: $0.physicalIndex, usedMemoryMiB: $0.usedMemory >> 20,
                                        utilizationPercent: Double($0.utilizationBasisPoints) / 100)
                          },
                          paging: s.paging.map {
                              SessionPaging(state: $0.state.description, pagedMiB: $0.pagedBytes >> 20, idleSeconds: Double($0.idleNanoseconds) / 1e9,
                                            pageOuts: $0.pageOuts, pageIns: $0.pageIns, lastPageOutSeconds: Double($0.lastPageOutNanoseconds) / 1e9,
                                            lastPageInSeconds: Double($0.lastPageInNanoseconds) / 1e9)
                          })
        }
        let busy = node.utilization()
        let usage = status.gpus.map {
            GPUUsage(index: $0.index, usedMemoryMiB: $0.usedMemory >> 20, utilizationPercent: min(100, 100 * (busy[$0.index] ?? 0)))
        }
        let reply: HeartbeatReply = try await client.post("/v1/nodes/\(placement.nodeName)/heartbeat", NodeHeartbeat(gpus: usage, sessions: sessions))
        let ended = Set(reply.endLeases)
        for (session, lease) in leases where ended.contains(lease) {
            logger.notice("the pool ended lease \(lease); ending session \(session)")
            placement.forget(session: session)
            node.endSession(id: session)
        }
        return reply
    }
}
