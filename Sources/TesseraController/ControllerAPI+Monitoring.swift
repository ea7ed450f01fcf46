import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import TesseraPoolAPI

extension ControllerAPI {
    /// `/metrics`, the pool's snapshot, its history ring and a live stream of snapshots and events (server-sent
    /// events), for monitoring tokens and admins.
    static func addMonitoring(_ group: RouterGroup<ControllerRequestContext>, controller c: Controller) {
        group.get("/metrics") { _, _ in
            // A copy of the pool (copy-on-write, cheap) so the rendering does not hold the pool's lock.
            let state = c.read { $0 }
            let text = PoolMetrics.render(state, now: Controller.now(), lasting: c.registry)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        group.get("/v1/whoami") { _, context in JSONReply(["role": context.caller?.rawValue ?? "unknown"]) }
        group.get("/v1/snapshot") { _, _ in JSONReply(c.read { $0.snapshot(now: Controller.now()) }) }
        group.get("/v1/history") { _, _ in JSONReply(c.samples()) }
        group.get("/v1/stream") { request, _ in
            let after = request.uri.queryParameters.get("after").flatMap { Int($0) } ?? 0
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                            body: ResponseBody { writer in try await stream(c, eventsAfter: after, to: &writer) })
        }
    }

    /// Writes a `snapshot` message whenever the pool changed (checked every 100 ms) and at least every second,
    /// an `events` message with events since the last one, and a `sample` message when the history ring grew;
    /// until the client goes away (a write fails) or the server shuts down (the page reconnects).
    static func stream(_ c: Controller, eventsAfter: Int, to writer: inout any ResponseBodyWriter) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func message(_ event: String, _ value: some Encodable) throws -> ByteBuffer {
            ByteBuffer(string: "event: \(event)\ndata: \(String(decoding: try encoder.encode(value), as: UTF8.self))\n\n")
        }
        var lastEvent = eventsAfter
        var lastChange: UInt64?
        var lastSent = ContinuousClock.now
        var lastSample = c.samples().last?.time
        // A stream ends after five minutes at the latest (the page reconnects), so that no request stays open
        // for ever.
        let started = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully && ContinuousClock.now - started < .seconds(300) {
            let change = c.changeCount
            if change != lastChange || ContinuousClock.now - lastSent >= .seconds(1) {
                let (snapshot, events) = c.read { ($0.snapshot(now: Controller.now()), $0.events(after: lastEvent)) }
                try await writer.write(try message("snapshot", snapshot))
                if !events.isEmpty {
                    lastEvent = events.last!.sequence
                    try await writer.write(try message("events", events))
                }
                if let last = c.samples().last, last.time != lastSample {
                    lastSample = last.time
                    try await writer.write(try message("sample", last))
                }
                lastChange = change
                lastSent = ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await writer.finish(nil)
    }
}
