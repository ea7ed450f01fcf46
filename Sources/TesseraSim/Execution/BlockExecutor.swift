import Dispatch
#if canImport(Glibc)
import Glibc
#endif

typealias Lanes = UnsafeMutablePointer<UInt64>

/// Where a warp stands: the program counter of its active lanes and the lanes parked elsewhere.
///
/// Divergence uses "minimum PC first": when a branch splits the warp, the lanes at the lowest PC run
/// and the others wait at their own PCs; the running group picks up waiting lanes when it reaches their
/// PC. For the structured code nvcc emits this reconverges exactly where hardware does.
struct WarpState {
    var pc: Int = 0
    var active: UInt32 = 0
    var waiting: UInt32 = 0
    var nextWaitPC: Int = .max
    var status: Status = .running
    /// Warp-instructions this warp has issued in its block: its clock, in issue slots.
    var issued: UInt64 = 0

    enum Status { case running, barrier, done }
}

/// A global allocation as an instruction's access last found it.
struct RegionCacheEntry {
    var base: UInt64 = 1
    var end: UInt64 = 0
    var storage: UnsafeMutableRawPointer?
}

/// Executes the blocks of one launch on the calling thread. Owns the register files, predicate files,
/// shared memory and local memory of one block and reuses them across blocks and launches.
final class BlockExecutor {
    var program: Program?
    var code: UnsafeMutablePointer<Inst> = .allocate(capacity: 1)
    var codeCapacity = 1
    /// The program's `vectorSlots`, copied like `code` so the hot loop reads them without retaining an array.
    var vectorSlots: UnsafeMutablePointer<Int32> = .allocate(capacity: 1)
    var vectorSlotsCapacity = 1
    var grid = Dim3()
    var block = Dim3()
    var memory = AddressMap([])
    var params: UnsafeMutableRawPointer = .allocate(byteCount: 64, alignment: 16)
    var paramsCapacity = 64
    var paramsSize = 0

    var slotCount = 0
    var predicateCount = 0
    var warpsPerBlock = 0
    var threadsPerBlock = 0
    var regs: Lanes = .allocate(capacity: 32)
    var regsCapacity = 32
    var preds: UnsafeMutablePointer<UInt32> = .allocate(capacity: 1)
    var predsCapacity = 1
    var lanePC: UnsafeMutablePointer<Int> = .allocate(capacity: 32)
    var lanePCCapacity = 32
    var shared: UnsafeMutableRawPointer = .allocate(byteCount: 16, alignment: 16)
    var sharedCapacity = 16
    var sharedSize = 0
    var local: UnsafeMutableRawPointer = .allocate(byteCount: 16, alignment: 16)
    var localCapacity = 16
    var localPerThread = 0
    var warps: [WarpState] = []
    var constantsLoaded: ObjectIdentifier?
    var constantsLoadedWarps = 0
    var scratch: Lanes = .allocate(capacity: 64)
    var blockIndex: (x: UInt32, y: UInt32, z: UInt32) = (0, 0, 0)
    var linearBlock = 0
    /// This executor's SM clock (cycles) when its current block started; monotonic across blocks and launches.
    var blockStartCycles: UInt64 = 0
    /// Cycles per warp-instruction in the current block: a lone warp issues a dependent instruction every
    /// 4 cycles; with more than 16 resident warps the SM's four schedulers are the limit.
    var cyclesPerInstruction: UInt64 = 4
    /// Device clock in kHz and the wall-clock origin of `%globaltimer`.
    var clockRateKHz: UInt64 = 1_755_000
    var timerEpochNanoseconds: UInt64 = 0
    /// Where the reserved shared-memory window starts in this launch's shared memory.
    var reservedSharedOffset = 0
    /// Reserved shared memory per block (`cudaDevAttrReservedSharedMemoryPerBlock` on sm_80 and later).
    static let reservedSharedBytes = 1024
    /// Warp-instructions a warp runs before a backward branch hands the turn to the next warp.
    var spinSlice = 1 << 16

    // The last global allocation an access hit; most accesses of a warp fall in the same one.
    var cacheBase: UInt64 = 1
    var cacheEnd: UInt64 = 0
    var cacheStorage: UnsafeMutableRawPointer?

    /// Per instruction: the global allocation it accessed last (see `globalRegion`); reset at every launch.
    var regions: UnsafeMutablePointer<RegionCacheEntry> = .allocate(capacity: 1)
    var regionsCapacity = 0

    var fault: SimError?
    /// Warp-instructions executed since the last `takeInstructionCount()`.
    var instructionCount = 0

    // Block-wide reduction of bar.red.
    var barrierCount: UInt32 = 0
    var barrierAll = true
    var barrierAny = false
    var barrierDest: [(warp: Int, slot: Int32, mask: UInt32, mode: UInt8)] = []

    deinit {
        code.deallocate()
        vectorSlots.deallocate()
        params.deallocate()
        regs.deallocate()
        preds.deallocate()
        lanePC.deallocate()
        shared.deallocate()
        local.deallocate()
        scratch.deallocate()
        regions.deallocate()
    }

    // MARK: Setup

    func prepare(launch: KernelLaunch, memory: AddressMap) {
        let program = launch.kernel.program
        let newProgram = constantsLoaded != ObjectIdentifier(program)
        self.program = program
        self.memory = memory
        cacheBase = 1
        cacheEnd = 0
        grid = launch.grid
        block = launch.block
        threadsPerBlock = block.count
        warpsPerBlock = (threadsPerBlock + 31) / 32
        slotCount = program.slotCount
        predicateCount = program.predicateCount
        if newProgram {
            if codeCapacity < program.code.count {
                code.deallocate()
                code = .allocate(capacity: program.code.count)
                codeCapacity = program.code.count
            }
            program.code.withUnsafeBufferPointer { src in
                code.update(from: src.baseAddress!, count: src.count)
            }
            if vectorSlotsCapacity < program.vectorSlots.count {
                vectorSlots.deallocate()
                vectorSlots = .allocate(capacity: program.vectorSlots.count)
                vectorSlotsCapacity = program.vectorSlots.count
            }
            program.vectorSlots.withUnsafeBufferPointer { src in
                if src.count > 0 { vectorSlots.update(from: src.baseAddress!, count: src.count) }
            }
        }
        if regionsCapacity < program.code.count {
            regions.deallocate()
            regions = .allocate(capacity: program.code.count)
            regionsCapacity = program.code.count
        }
        // Allocations may have changed since the last launch.
        regions.update(repeating: RegionCacheEntry(), count: program.code.count)
        paramsSize = launch.parameters.count
        if paramsCapacity < paramsSize {
            params.deallocate()
            params = .allocate(byteCount: paramsSize, alignment: 16)
            paramsCapacity = paramsSize
        }
        launch.parameters.withUnsafeBytes { if $0.count > 0 { params.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }

        let regsNeeded = max(1, warpsPerBlock * slotCount * 32)
        if regsCapacity < regsNeeded {
            regs.deallocate()
            regs = .allocate(capacity: regsNeeded)
            regsCapacity = regsNeeded
            constantsLoaded = nil
            constantsLoadedWarps = 0
        }
        let predsNeeded = max(1, warpsPerBlock * predicateCount)
        if predsCapacity < predsNeeded {
            preds.deallocate()
            preds = .allocate(capacity: predsNeeded)
            predsCapacity = predsNeeded
        }
        if lanePCCapacity < warpsPerBlock * 32 {
            lanePC.deallocate()
            lanePC = .allocate(capacity: warpsPerBlock * 32)
            lanePCCapacity = warpsPerBlock * 32
        }
        sharedSize = program.staticSharedBytes == 0 && launch.dynamicSharedBytes == 0
            ? 0 : (program.staticSharedBytes + 15) / 16 * 16 + launch.dynamicSharedBytes
        // The reserved window (cooperative groups' scratch) follows the kernel's shared memory.
        reservedSharedOffset = (sharedSize + 15) / 16 * 16
        if program.specials.contains(where: { $0.1.isReservedSharedMemory }) {
            sharedSize = reservedSharedOffset + BlockExecutor.reservedSharedBytes
        }
        if sharedCapacity < sharedSize {
            shared.deallocate()
            shared = .allocate(byteCount: sharedSize, alignment: 16)
            sharedCapacity = sharedSize
        }
        localPerThread = (program.localBytesPerThread + 15) / 16 * 16
        let localNeeded = localPerThread * warpsPerBlock * 32
        if localCapacity < localNeeded {
            local.deallocate()
            local = .allocate(byteCount: localNeeded, alignment: 16)
            localCapacity = localNeeded
        }
        // Constants: written once per register file; kernels never write constant slots.
        if constantsLoaded != ObjectIdentifier(program) || constantsLoadedWarps < warpsPerBlock {
            for w in 0..<warpsPerBlock {
                let base = regs + w * slotCount * 32
                for (slot, value) in program.constants {
                    (base + Int(slot) * 32).update(repeating: value, count: 32)
                }
            }
            constantsLoaded = ObjectIdentifier(program)
            constantsLoadedWarps = warpsPerBlock
        }
        // Special registers that depend only on the warp and lane.
        let bx = Int(block.x), by = Int(block.y)
        for w in 0..<warpsPerBlock {
            let base = regs + w * slotCount * 32
            for (slot, sr) in program.specials {
                let d = base + Int(slot) * 32
                for l in 0..<32 {
                    let t = w * 32 + l
                    let v: UInt64
                    switch sr {
                    case .tidX: v = UInt64(t % bx)
                    case .tidY: v = UInt64((t / bx) % by)
                    case .tidZ: v = UInt64(t / (bx * by))
                    case .ntidX: v = UInt64(block.x)
                    case .ntidY: v = UInt64(block.y)
                    case .ntidZ: v = UInt64(block.z)
                    case .nctaidX: v = UInt64(grid.x)
                    case .nctaidY: v = UInt64(grid.y)
                    case .nctaidZ: v = UInt64(grid.z)
                    case .laneid: v = UInt64(l)
                    case .warpid: v = UInt64(w)
                    case .nwarpid: v = UInt64(warpsPerBlock)
                    case .nsmid: v = 132
                    case .gridid: v = 1
                    case .lanemaskEq: v = UInt64(UInt32(1) << l)
                    case .lanemaskLt: v = UInt64((UInt32(1) << l) &- 1)
                    case .lanemaskLe: v = UInt64(UInt32(truncatingIfNeeded: (UInt64(2) << l) &- 1))
                    case .lanemaskGt: v = UInt64(~UInt32(truncatingIfNeeded: (UInt64(2) << l) &- 1))
                    case .lanemaskGe: v = UInt64(~((UInt32(1) << l) &- 1))
                    case .dynamicSmemSize: v = UInt64(launch.dynamicSharedBytes)
                    case .totalSmemSize: v = UInt64(sharedSize)
                    case .reservedSmemBegin, .reservedSmemOffset0, .reservedSmemOffset1: v = UInt64(reservedSharedOffset)
                    case .reservedSmemEnd: v = UInt64(reservedSharedOffset + BlockExecutor.reservedSharedBytes)
                    case .reservedSmemCap: v = UInt64(BlockExecutor.reservedSharedBytes)
                    case .envreg1: v = launch.gridWorkspace >> 32
                    case .envreg2: v = launch.gridWorkspace & 0xFFFF_FFFF
                    case .envregOther: v = 0
                    case .ctaidX, .ctaidY, .ctaidZ, .smid: v = 0  // per block
                    }
                    d[l] = v
                }
            }
        }
        if warps.count < warpsPerBlock { warps = Array(repeating: WarpState(), count: warpsPerBlock) }
        cyclesPerInstruction = UInt64(max(4, (warpsPerBlock + 3) / 4))
    }

    // MARK: Blocks

    /// Sets up block `linear` to run from its first instruction.
    func beginBlock(linear: Int) -> SimError? {
        guard let program else { return nil }
        linearBlock = linear
        let gx = Int(grid.x), gy = Int(grid.y)
        blockIndex = (UInt32(linear % gx), UInt32((linear / gx) % gy), UInt32(linear / (gx * gy)))
        for (slot, sr) in program.specials {
            let v: UInt64
            switch sr {
            case .ctaidX: v = UInt64(blockIndex.x)
            case .ctaidY: v = UInt64(blockIndex.y)
            case .ctaidZ: v = UInt64(blockIndex.z)
            case .smid: v = UInt64(linear % 132)
            default: continue
            }
            for w in 0..<warpsPerBlock { (regs + w * slotCount * 32 + Int(slot) * 32).update(repeating: v, count: 32) }
        }
        for w in 0..<warpsPerBlock {
            let valid = min(32, threadsPerBlock - w * 32)
            warps[w] = WarpState(pc: 0, active: valid == 32 ? .max : (UInt32(1) << valid) - 1, waiting: 0, nextWaitPC: .max, status: .running, issued: 0)
            let p = preds + w * predicateCount
            p.update(repeating: 0, count: predicateCount)
            for t in program.truePredicates { p[Int(t)] = .max }
        }
        if sharedSize > reservedSharedOffset {
            (shared + reservedSharedOffset).initializeMemory(as: UInt8.self, repeating: 0, count: sharedSize - reservedSharedOffset)
        }
        fault = nil
        resetBarrier()
        return nil
    }

    /// Runs one block to completion. Returns the fault that stopped it, if any.
    func runBlock(linear: Int, abort: LaunchState) -> SimError? {
        if let f = beginBlock(linear: linear) { return f }
        while true {
            switch resume(abort: abort) {
            case .done: return nil
            case .fault(let f): return f
            case .yielded: continue
            }
        }
    }

    enum BlockOutcome { case done, yielded, fault(SimError) }

    /// Runs the block's warps round-robin until every warp has exited, a fault, or (with `yieldOnSpin`) a
    /// round in which a warp gave up its slice in a loop: a warp that spins on memory another warp or block
    /// writes (cooperative groups' barriers, grid sync) must let the writer run, as a GPU's scheduler does.
    func resume(abort: LaunchState, yieldOnSpin: Bool = false) -> BlockOutcome {
        while true {
            var spun = false
            for w in 0..<warpsPerBlock where warps[w].status == .running {
                runWarp(w, abort: abort)
                if let f = fault { return .fault(f) }
                if abort.shouldStop { return .done }
                if warps[w].status == .running { spun = true }
            }
            if spun {
                if yieldOnSpin { return .yielded }
                continue
            }
            var waiting = false
            var slowest: UInt64 = 0
            for w in 0..<warpsPerBlock where warps[w].status != .done { slowest = max(slowest, warps[w].issued) }
            for w in 0..<warpsPerBlock where warps[w].status == .barrier {
                waiting = true
                warps[w].status = .running
                warps[w].issued = slowest  // a barrier releases when its slowest warp arrives
            }
            if !waiting { finishBlockClock(); return .done }
            // Every live warp is at a barrier: complete bar.red reductions, then release.
            for (w, slot, mask, mode) in barrierDest {
                switch mode {
                case 0:
                    let d = regs + w * slotCount * 32 + Int(slot) * 32
                    forLanes(mask) { d[$0] = UInt64(barrierCount) }
                default:
                    let p = preds + w * predicateCount + Int(slot)
                    let value = mode == 1 ? barrierAll : barrierAny
                    p.pointee = value ? (p.pointee | mask) : (p.pointee & ~mask)
                }
            }
            resetBarrier()
        }
    }

    /// Ends the block on this executor's clock: the block took as long as its slowest warp.
    func finishBlockClock() {
        var slowest: UInt64 = 0
        for w in 0..<warpsPerBlock { slowest = max(slowest, warps[w].issued) }
        blockStartCycles &+= slowest &* cyclesPerInstruction &+ 64
    }

    /// The value of `%clock`, `%clock64`, `%globaltimer` and their halves for warp `s`, in step with the
    /// instructions the block has issued (the simulator's time, not the host's).
    @inline(__always)
    func clockValue(_ s: WarpState, executed: Int, mode: UInt8) -> UInt64 {
        let cycles = blockStartCycles &+ (s.issued &+ UInt64(executed)) &* cyclesPerInstruction
        switch mode {
        case 0: return cycles & 0xFFFF_FFFF
        case 1: return cycles
        case 2: return cycles >> 32
        default:
            let ns = timerEpochNanoseconds &+ UInt64(Double(cycles) * 1e6 / Double(clockRateKHz))
            return mode == 3 ? ns : (mode == 4 ? ns & 0xFFFF_FFFF : ns >> 32)
        }
    }

    func resetBarrier() {
        barrierCount = 0
        barrierAll = true
        barrierAny = false
        barrierDest.removeAll(keepingCapacity: true)
    }

    // MARK: Warps

    /// Runs `body` for each lane of `m`; a full warp as a plain counted loop the compiler can vectorise.
    @inline(__always)
    func forLanes(_ m: UInt32, _ body: (Int) -> Void) {
        if m == .max {
            for l in 0..<32 { body(l) }
        } else {
            var x = m
            while x != 0 {
                body(x.trailingZeroBitCount)
                x &= x &- 1
            }
        }
    }

    /// Lanes of `waiting` parked at `pc` join the active group.
    @inline(__always)
    func merge(_ s: inout WarpState, _ w: Int) {
        let pcs = lanePC + w * 32
        var joined: UInt32 = 0
        var next = Int.max
        var x = s.waiting
        while x != 0 {
            let l = x.trailingZeroBitCount
            x &= x &- 1
            if pcs[l] == s.pc { joined |= 1 << l } else if pcs[l] < next { next = pcs[l] }
        }
        s.active |= joined
        s.waiting &= ~joined
        s.nextWaitPC = next
    }

    /// Parks the active lanes at `s.pc` and resumes the waiting lanes with the lowest PC.
    func reselect(_ s: inout WarpState, _ w: Int, parking: Bool) {
        let pcs = lanePC + w * 32
        if parking {
            forLanes(s.active) { pcs[$0] = s.pc }
            s.waiting |= s.active
            s.active = 0
        }
        var minPC = Int.max
        forLanes(s.waiting) { if pcs[$0] < minPC { minPC = pcs[$0] } }
        s.pc = minPC
        merge(&s, w)
    }

    func runWarp(_ w: Int, abort: LaunchState) {
        var s = warps[w]
        var executed = 0
        defer {
            s.issued &+= UInt64(executed)
            warps[w] = s
            instructionCount &+= executed
        }
        let R = regs + w * slotCount * 32
        let P = preds + w * predicateCount
        let C = code
        while true {
            // Read in place: a copy of the instruction per step costs more than most instructions' work.
            let ip = C + s.pc
            executed &+= 1
            var m = s.active
            let guardPredicate = ip.pointee.guardPredicate
            if guardPredicate >= 0 {
                let g = P[Int(guardPredicate)]
                m &= ip.pointee.guardNegated ? ~g : g
            }
            // Specialised forms first: one dispatch on a dense byte for most of a kernel's instructions.
            if ip.pointee.fast != .none && m != 0 && fastExecute(ip, s.pc, m, R, P) {
                s.pc += 1
                if s.pc == s.nextWaitPC { merge(&s, w) }
                continue
            }
            let ins = ip.pointee
            switch ins.op {
            case .bra:
                let target = Int(ins.imm)
                if m == s.active {
                    if target <= s.pc {
                        if abort.shouldStop { s.status = .done; return }
                        if executed >= spinSlice {
                            // A long-running loop gives the other warps a turn (it may wait on them).
                            s.pc = target
                            if s.waiting != 0 {
                                if target > s.nextWaitPC { reselect(&s, w, parking: true) } else if target == s.nextWaitPC { merge(&s, w) }
                            }
                            return
                        }
                    }
                    s.pc = target
                    if s.waiting != 0 {
                        if target > s.nextWaitPC { reselect(&s, w, parking: true) } else if target == s.nextWaitPC { merge(&s, w) }
                    }
                    continue
                } else if m == 0 {
                    s.pc += 1
                } else {
                    let pcs = lanePC + w * 32
                    let next = s.pc + 1
                    forLanes(m) { pcs[$0] = target }
                    forLanes(s.active & ~m) { pcs[$0] = next }
                    s.waiting |= s.active
                    s.active = 0
                    reselect(&s, w, parking: false)
                    if target <= next && abort.shouldStop { s.status = .done; return }
                    continue
                }
            case .exit:
                s.active &= ~m
                if s.active == 0 {
                    if s.waiting == 0 { s.status = .done; return }
                    reselect(&s, w, parking: false)
                    continue
                }
                s.pc += 1
            case .bar:
                s.pc += 1
                if m != 0 {
                    if s.pc == s.nextWaitPC { merge(&s, w) }
                    s.status = .barrier
                    return
                }
            case .barRed:
                s.pc += 1
                if m != 0 {
                    let c = P[Int(ins.c)]
                    let v = (ins.flags & InstFlags.negateC != 0 ? ~c : c) & m
                    barrierCount &+= UInt32(v.nonzeroBitCount)
                    if v != m { barrierAll = false }
                    if v != 0 { barrierAny = true }
                    barrierDest.append((w, ins.d, m, ins.mode))
                    if s.pc == s.nextWaitPC { merge(&s, w) }
                    s.status = .barrier
                    return
                }
            case .trap:
                if m != 0 {
                    fault = SimError(.launchFailure, "kernel \(program!.name) executed trap at PTX line \(ins.line) (block \(blockIndex), warp \(w))")
                    s.status = .done
                    return
                }
                s.pc += 1
            case .nop:
                s.pc += 1
            case .printf, .assertFail:
                if m != 0 {
                    if ins.op == .printf { devicePrintf(ins, m, w, abort.output) } else { deviceAssert(ins, m, w, abort.output) }
                    if fault != nil { s.status = .done; return }
                }
                s.pc += 1
            case .movSpecialClock:
                if m != 0 {
                    let v = clockValue(s, executed: executed, mode: ins.mode)
                    let d = R + Int(ins.d) &<< 5
                    forLanes(m) { d[$0] = v }
                }
                s.pc += 1
            default:
                if m != 0 && !simpleInteger(ins, m, R) {
                    execute(ins, m, R, P, w, &s)
                    if fault != nil { s.status = .done; return }
                }
                s.pc += 1
            }
            if s.pc == s.nextWaitPC { merge(&s, w) }
        }
    }

    func describe(lane: Int, warp: Int) -> String {
        let t = warp * 32 + lane
        let bx = Int(block.x), by = Int(block.y)
        return "thread (\(t % bx), \((t / bx) % by), \(t / (bx * by))) of block (\(blockIndex.x), \(blockIndex.y), \(blockIndex.z))"
    }
}
