import Testing
import Foundation
@testable import TesseraSim

/// Small copies, memsets and event records run on the calling thread when their stream has nothing queued
/// (saving the hand-off to the stream's worker); everything else is queued. These tests mix both kinds and
/// check that CUDA's stream order holds either way. The slow kernel makes queued work likely to still be
/// pending when the next call comes, but every expectation holds whatever the timing.
@Suite struct StreamOrderTests {
    static let spin: Int32 = 200_000

    func read(_ ctx: SimContext, _ address: UInt64, on stream: SimStream? = nil) throws -> Int32 {
        var value: Int32 = 0
        try withUnsafeMutableBytes(of: &value) { try ctx.copyFromDevice(address, to: $0.baseAddress!, count: 4, on: stream) }
        try ctx.synchronize()
        return value
    }

    func write(_ ctx: SimContext, _ address: UInt64, _ value: Int32, on stream: SimStream? = nil) throws {
        var v = value
        try withUnsafeBytes(of: &v) { try ctx.copyToDevice(address, from: $0.baseAddress!, count: 4, on: stream) }
        try ctx.synchronize()  // `v` must outlive the copy when it was queued
    }

    @Test func smallWorkOnAnIdleStreamCompletesBeforeTheCallReturns() throws {
        let harness = SimHarness()
        let ctx = harness.context
        let p = try ctx.allocate(4)
        let s = ctx.makeStream()
        try ctx.memset(p, value: 7, count: 4, on: s)
        #expect(s.isIdle, "a 4-byte memset on an idle stream ran inline")
        let e = ctx.makeEvent()
        try ctx.record(e, on: s)
        #expect(e.isComplete)
        #expect(try read(ctx, p, on: s) == 0x0707_0707)
        // Large work is always queued, and still lands in order.
        let big = try ctx.allocate(SimContext.inlineWorkLimit + 1)
        try ctx.memset(big, value: 1, count: SimContext.inlineWorkLimit + 1, on: s)
        try ctx.copyOnDevice(p, from: big, count: 4, on: s)
        #expect(try read(ctx, p, on: s) == 0x0101_0101)
    }

    @Test func inlineAndQueuedWorkKeepStreamOrder() throws {
        let harness = SimHarness()
        let ctx = harness.context
        let module = try harness.load("stream_order.cu")
        let slow = try module.kernel(named: "slow_store"), step = try module.kernel(named: "times_ten_plus")
        let p = try ctx.allocate(4), q = try ctx.allocate(4)
        let s = ctx.makeStream()
        try ctx.launch(slow, grid: Dim3(1), block: Dim3(1), parameters: SimHarness.pack([arg(p), arg(Int32(1)), arg(Self.spin)], for: slow), on: s)
        try ctx.launch(step, grid: Dim3(1), block: Dim3(1), parameters: SimHarness.pack([arg(p), arg(Int32(2))], for: step), on: s)
        // Small work behind queued kernels: queued too, in order.
        try ctx.memset(q, value: 0, count: 4, on: s)
        try ctx.copyOnDevice(q, from: p, count: 4, on: s)
        try ctx.launch(step, grid: Dim3(1), block: Dim3(1), parameters: SimHarness.pack([arg(q), arg(Int32(3))], for: step), on: s)
        #expect(try read(ctx, q, on: s) == 123)
        #expect(try read(ctx, p, on: s) == 12)
        // Idle again: the copy runs inline, the launch behind it is queued, the read-back waits for the launch.
        try write(ctx, p, 4, on: s)
        try ctx.launch(step, grid: Dim3(1), block: Dim3(1), parameters: SimHarness.pack([arg(p), arg(Int32(5))], for: step), on: s)
        #expect(try read(ctx, p, on: s) == 45)
    }

    @Test func defaultStreamWorkWaitsForBlockingStreamsButNotForNonBlockingOnes() throws {
        let harness = SimHarness()
        let ctx = harness.context
        let module = try harness.load("stream_order.cu")
        let slow = try module.kernel(named: "slow_store")
        let p = try ctx.allocate(4), q = try ctx.allocate(4)
        let blocking = ctx.makeStream(), nonBlocking = ctx.makeStream(nonBlocking: true)
        try ctx.launch(slow, grid: Dim3(1), block: Dim3(1), parameters: SimHarness.pack([arg(p), arg(Int32(9)), arg(Self.spin)], for: slow), on: blocking)
        // The legacy default stream waits for the blocking stream's kernel, so the memset lands last.
        try ctx.memset(p, value: 0, count: 4, on: nil)
        // A non-blocking stream waits for nothing: its memset runs at once, whatever the others hold.
        try ctx.memset(q, value: 3, count: 4, on: nonBlocking)
        #expect(nonBlocking.isIdle)
        try ctx.synchronize()
        #expect(try read(ctx, p) == 0)
        #expect(try read(ctx, q) == 0x0303_0303)
        // And work on the blocking stream waits for the default stream's.
        try ctx.launch(slow, grid: Dim3(1), block: Dim3(1), parameters: SimHarness.pack([arg(p), arg(Int32(8)), arg(Self.spin)], for: slow), on: nil)
        try write(ctx, p, 6, on: blocking)
        #expect(try read(ctx, p, on: blocking) == 6)
    }

    /// A stream's worker out of work keeps its thread for a while (parked), so a program that synchronises and
    /// launches again finds it waiting; work arriving while it is parked runs, in order, and a worker idle for long
    /// hands its thread back (a later unit starts a new one).
    @Test func anIdleStreamsWorkerTakesLaterWorkInOrderAndLetsGoAfterAWhile() throws {
        let harness = SimHarness()
        let ctx = harness.context
        let p = try ctx.allocate(SimContext.inlineWorkLimit + 4)
        let s = ctx.makeStream()
        func parked() -> Bool { s.pending.withLock { $0.draining && $0.parked } }
        func draining() -> Bool { s.pending.withLock { $0.draining } }
        func waitUntil(_ condition: () -> Bool) {
            let deadline = ContinuousClock.now + .seconds(30)
            while !condition() && ContinuousClock.now < deadline { usleep(1_000) }
        }
        for value: UInt8 in 1...3 {
            // Large memsets are queued; the copy behind them reads the last one.
            try ctx.memset(p, value: value, count: SimContext.inlineWorkLimit + 4, on: s)
            try ctx.synchronize(s)
            waitUntil(parked)
            #expect(parked(), "the worker waits for more work")
            try ctx.memset(p, value: value &+ 10, count: SimContext.inlineWorkLimit + 4, on: s)
            #expect(try read(ctx, p, on: s) == Int32(bitPattern: UInt32(value &+ 10) * 0x0101_0101))
        }
        waitUntil { !draining() }
        #expect(!draining(), "an idle worker hands its thread back")
        try ctx.memset(p, value: 9, count: SimContext.inlineWorkLimit + 4, on: s)
        #expect(try read(ctx, p, on: s) == 0x0909_0909)
    }
}
