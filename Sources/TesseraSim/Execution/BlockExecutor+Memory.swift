import CTesseraSimSupport

extension BlockExecutor {
    /// Host pointer for `size` bytes at `address` in `space` for lane `lane` of warp `w`, or nil after
    /// recording an illegal-address fault. Every access of every kernel goes through here.
    @inline(__always)
    func translate(_ space: MemorySpace, _ address: UInt64, _ size: Int, _ lane: Int, _ w: Int, write: Bool, _ ins: Inst) -> UnsafeMutableRawPointer? {
        var space = space
        var addr = address
        if space == .generic {
            if addr >= AddressSpace.sharedBase && addr < AddressSpace.sharedLimit {
                space = .shared
                addr -= AddressSpace.sharedBase
            } else if addr >= AddressSpace.localBase && addr < AddressSpace.localLimit {
                space = .local
                addr -= AddressSpace.localBase
            } else if addr >= AddressSpace.paramBase && addr < AddressSpace.paramLimit {
                space = .param
                addr -= AddressSpace.paramBase
            } else {
                space = .global
            }
        }
        if size > 1 && addr & UInt64(size - 1) != 0 && space != .param {
            recordFault(.launchFailure, "misaligned address", space, address, size, lane, w, write, ins)
            return nil
        }
        switch space {
        case .global:
            if addr >= cacheBase && addr &+ UInt64(size) <= cacheEnd && addr &+ UInt64(size) > addr {
                return cacheStorage! + Int(addr &- cacheBase)
            }
            guard let a = memory.find(addr, length: size) else { break }
            cacheBase = a.base
            cacheEnd = a.end
            cacheStorage = a.storage
            return a.storage + Int(addr &- a.base)
        case .shared:
            if addr &+ UInt64(size) <= UInt64(sharedSize) && addr < UInt64(sharedSize) { return shared + Int(addr) }
        case .local:
            if addr &+ UInt64(size) <= UInt64(localPerThread) && addr < UInt64(localPerThread) {
                return local + (w * 32 + lane) * localPerThread + Int(addr)
            }
        case .param:
            if !write && addr &+ UInt64(size) <= UInt64(paramsSize) && addr < UInt64(paramsSize) { return params + Int(addr) }
        case .generic:
            break
        }
        recordFault(.illegalAddress, "illegal address", space, address, size, lane, w, write, ins)
        return nil
    }

    func recordFault(_ code: SimError.Code, _ what: String, _ space: MemorySpace, _ address: UInt64, _ size: Int, _ lane: Int, _ w: Int, _ write: Bool, _ ins: Inst) {
        guard fault == nil else { return }
        fault = SimError(code, "\(what): \(write ? "write" : "read") of \(size) bytes at 0x\(String(address, radix: 16)) (\(space)) by \(describe(lane: lane, warp: w)) in kernel \(program!.name), PTX line \(ins.line)")
    }

    @inline(__always)
    func readValue(_ p: UnsafeMutableRawPointer, _ t: ScalarType) -> UInt64 {
        switch t {
        case .s8: return UInt64(bitPattern: Int64(p.load(as: Int8.self)))
        case .u8, .b8, .pred: return UInt64(p.load(as: UInt8.self))
        case .s16: return UInt64(bitPattern: Int64(p.loadUnaligned(as: Int16.self)))
        case .u16, .b16, .f16, .bf16: return UInt64(p.loadUnaligned(as: UInt16.self))
        case .s32: return UInt64(bitPattern: Int64(p.loadUnaligned(as: Int32.self)))
        case .u32, .b32, .f32, .f16x2, .bf16x2: return UInt64(p.loadUnaligned(as: UInt32.self))
        default: return p.loadUnaligned(as: UInt64.self)
        }
    }

    @inline(__always)
    func writeValue(_ p: UnsafeMutableRawPointer, _ t: ScalarType, _ v: UInt64) {
        switch t.bytes {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self)
        default: p.storeBytes(of: v, as: UInt64.self)
        }
    }

    /// Warp-wide fast path: when every active lane's access of `size` bytes is aligned and falls in one
    /// global allocation (or in shared memory), returns the host address corresponding to device address 0
    /// for them, so each lane's host pointer is that plus its address. Nil means: take the per-lane path.
    @inline(__always)
    func uniformRegion(_ space: MemorySpace, _ base: Lanes?, _ imm: UInt64, _ m: UInt32, _ size: Int) -> UnsafeMutableRawPointer? {
        // Common case first: every lane inside the allocation the last access hit (or inside shared memory).
        // Offsets are checked with subtractions and ORs only, which vectorize without 64-bit compares:
        // `span - offset` or `offset` has its top bit set exactly when the offset is out of [0, span].
        if let base {
            let isShared = space == .shared
            if isShared || ((space == .global || space == .generic) && cacheEnd > cacheBase) {
                let origin = isShared ? 0 : cacheBase
                let limit = isShared ? UInt64(sharedSize) : cacheEnd &- cacheBase
                if limit >= UInt64(size) {
                    let span = limit &- UInt64(size)
                    let start = imm &- origin
                    var outside: UInt64 = 0, offsets: UInt64 = 0
                    if m == .max {
                        for l in 0..<32 {
                            let off = base[l] &+ start
                            outside |= (span &- off) | off
                            offsets |= off
                        }
                    } else {
                        forLanes(m) { l in
                            let off = base[l] &+ start
                            outside |= (span &- off) | off
                            offsets |= off
                        }
                    }
                    if outside >> 63 == 0 && offsets & UInt64(size - 1) == 0 {
                        return isShared ? self.shared : cacheStorage! - Int(bitPattern: UInt(cacheBase))
                    }
                }
            }
        }
        var lo = UInt64.max, hi: UInt64 = 0, misaligned: UInt64 = 0
        if let base {
            forLanes(m) { l in
                let a = base[l] &+ imm
                lo = Swift.min(lo, a)
                hi = Swift.max(hi, a)
                misaligned |= a
            }
        } else {
            lo = imm
            hi = imm
            misaligned = imm
        }
        guard misaligned & UInt64(size - 1) == 0 else { return nil }
        let end = hi &+ UInt64(size)
        guard end > hi else { return nil }
        switch space {
        case .global, .generic:
            if space == .generic && hi >= AddressSpace.sharedBase && lo < AddressSpace.globalBase {
                guard lo >= AddressSpace.sharedBase, end <= AddressSpace.sharedBase + UInt64(sharedSize) else { return nil }
                return shared - Int(bitPattern: UInt(AddressSpace.sharedBase))
            }
            if lo >= cacheBase && end <= cacheEnd {
                return cacheStorage! - Int(bitPattern: UInt(cacheBase))
            }
            guard let a = memory.find(lo, length: Int(end - lo)) else { return nil }
            cacheBase = a.base
            cacheEnd = a.end
            cacheStorage = a.storage
            return a.storage - Int(bitPattern: UInt(a.base))
        case .shared:
            guard end <= UInt64(sharedSize) else { return nil }
            return shared
        default:
            return nil
        }
    }

    @inline(__always)
    func load(_ ins: Inst, _ m: UInt32, _ R: Lanes, _ w: Int) {
        let space = MemorySpace(rawValue: ins.space)!
        let t = ins.type
        let size = t.bytes
        let count = Int(ins.count)
        let base = ins.a >= 0 ? R + Int(ins.a) &<< 5 : nil
        let imm = UInt64(bitPattern: ins.imm)
        // Kernel parameters at a fixed offset (most ld.param): one read for the whole warp.
        if space == .param && base == nil && imm &+ UInt64(size * count) <= UInt64(paramsSize) && imm < UInt64(paramsSize) {
            if count == 1 {
                let d = R + Int(ins.d) &<< 5
                let v = readValue(params + Int(imm), t)
                forLanes(m) { d[$0] = v }
            } else {
                let vs = program!.vectorSlots
                for i in 0..<count {
                    let d = R + Int(vs[Int(ins.e) + i]) &<< 5
                    let v = readValue(params + Int(imm) + i * size, t)
                    forLanes(m) { d[$0] = v }
                }
            }
            return
        }
        if count == 1 {
            let d = R + Int(ins.d) &<< 5
            if let region = uniformRegion(space, base, imm, m, size) {
                let b = base ?? d  // unused when base is nil
                switch t {
                case .f32, .u32, .b32:
                    if base == nil { let v = UInt64(region.advanced(by: Int(bitPattern: UInt(imm))).load(as: UInt32.self)); forLanes(m) { d[$0] = v } }
                    else { forLanes(m) { l in d[l] = UInt64(region.advanced(by: Int(bitPattern: UInt(b[l] &+ imm))).load(as: UInt32.self)) } }
                case .f64, .u64, .b64, .s64:
                    if base == nil { let v = region.advanced(by: Int(bitPattern: UInt(imm))).load(as: UInt64.self); forLanes(m) { d[$0] = v } }
                    else { forLanes(m) { l in d[l] = region.advanced(by: Int(bitPattern: UInt(b[l] &+ imm))).load(as: UInt64.self) } }
                default:
                    forLanes(m) { l in d[l] = readValue(region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ imm))), t) }
                }
                return
            }
            forLanes(m) { l in
                guard fault == nil else { return }
                let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
                guard let p = translate(space, addr, size, l, w, write: false, ins) else { return }
                d[l] = readValue(p, t)
            }
        } else {
            let vs = program!.vectorSlots
            let first = Int(ins.e)
            let total = size * count
            if total == 8 || total == 16 {
                // One access per lane for the whole vector, as the hardware makes it: a block polling another
                // block's {status, value} pair (CUB's decoupled look-back, on another thread here) must never see
                // one half new and the other old.
                if let region = uniformRegion(space, base, imm, m, total) {
                    forLanes(m) { l in
                        loadWhole(region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ imm))), total, t, size, count, first, R, l)
                    }
                    return
                }
                forLanes(m) { l in
                    guard fault == nil else { return }
                    let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
                    guard let p = translate(space, addr, total, l, w, write: false, ins) else { return }
                    loadWhole(p, total, t, size, count, first, R, l)
                }
                return
            }
            if let region = uniformRegion(space, base, imm, m, size * count) {
                for i in 0..<count {
                    let d = R + Int(vs[first + i]) &<< 5
                    let offset = imm &+ UInt64(i * size)
                    forLanes(m) { l in d[l] = readValue(region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ offset))), t) }
                }
                return
            }
            forLanes(m) { l in
                guard fault == nil else { return }
                let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
                guard let p = translate(space, addr, size * count, l, w, write: false, ins) else { return }
                for i in 0..<count { R[Int(vs[first + i]) &<< 5 + l] = readValue(p + i * size, t) }
            }
        }
    }

    @inline(__always)
    func store(_ ins: Inst, _ m: UInt32, _ R: Lanes, _ w: Int) {
        let space = MemorySpace(rawValue: ins.space)!
        let t = ins.type
        let size = t.bytes
        let count = Int(ins.count)
        let base = ins.a >= 0 ? R + Int(ins.a) &<< 5 : nil
        let imm = UInt64(bitPattern: ins.imm)
        if count == 1 {
            let v = R + Int(ins.b) &<< 5
            if let region = uniformRegion(space, base, imm, m, size) {
                switch size {
                case 4: forLanes(m) { l in region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ imm))).storeBytes(of: UInt32(truncatingIfNeeded: v[l]), as: UInt32.self) }
                case 8: forLanes(m) { l in region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ imm))).storeBytes(of: v[l], as: UInt64.self) }
                default: forLanes(m) { l in writeValue(region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ imm))), t, v[l]) }
                }
                return
            }
            forLanes(m) { l in
                guard fault == nil else { return }
                let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
                guard let p = translate(space, addr, size, l, w, write: true, ins) else { return }
                writeValue(p, t, v[l])
            }
        } else {
            let vs = program!.vectorSlots
            let first = Int(ins.e)
            let total = size * count
            if total == 8 || total == 16 {
                // One store per lane for the whole vector (see `load`).
                if let region = uniformRegion(space, base, imm, m, total) {
                    forLanes(m) { l in
                        storeWhole(region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ imm))), total, t, size, count, first, R, l)
                    }
                    return
                }
                forLanes(m) { l in
                    guard fault == nil else { return }
                    let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
                    guard let p = translate(space, addr, total, l, w, write: true, ins) else { return }
                    storeWhole(p, total, t, size, count, first, R, l)
                }
                return
            }
            if let region = uniformRegion(space, base, imm, m, size * count) {
                for i in 0..<count {
                    let v = R + Int(vs[first + i]) &<< 5
                    let offset = imm &+ UInt64(i * size)
                    forLanes(m) { l in writeValue(region.advanced(by: Int(bitPattern: UInt((base?[l] ?? 0) &+ offset))), t, v[l]) }
                }
                return
            }
            forLanes(m) { l in
                guard fault == nil else { return }
                let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
                guard let p = translate(space, addr, size * count, l, w, write: true, ins) else { return }
                for i in 0..<count { writeValue(p + i * size, t, R[Int(vs[first + i]) &<< 5 + l]) }
            }
        }
    }

    /// Lane `l`'s 8- or 16-byte vector read with one load (aligned, so the CPU makes it single-copy atomic), then
    /// split into its components' registers.
    @inline(__always)
    func loadWhole(_ p: UnsafeMutableRawPointer, _ total: Int, _ t: ScalarType, _ size: Int, _ count: Int, _ first: Int, _ R: Lanes, _ l: Int) {
        var word = SIMD2<UInt64>()
        if total == 8 { word[0] = p.loadUnaligned(as: UInt64.self) } else { word = p.loadUnaligned(as: SIMD2<UInt64>.self) }
        let vs = program!.vectorSlots
        withUnsafeMutableBytes(of: &word) { b in
            for i in 0..<count { R[Int(vs[first + i]) &<< 5 + l] = readValue(b.baseAddress! + i * size, t) }
        }
    }

    /// Lane `l`'s 8- or 16-byte vector assembled from its components' registers and written with one store.
    @inline(__always)
    func storeWhole(_ p: UnsafeMutableRawPointer, _ total: Int, _ t: ScalarType, _ size: Int, _ count: Int, _ first: Int, _ R: Lanes, _ l: Int) {
        var word = SIMD2<UInt64>()
        let vs = program!.vectorSlots
        withUnsafeMutableBytes(of: &word) { b in
            for i in 0..<count { writeValue(b.baseAddress! + i * size, t, R[Int(vs[first + i]) &<< 5 + l]) }
        }
        if total == 8 { p.storeBytes(of: word[0], as: UInt64.self) } else { p.storeBytes(of: word, as: SIMD2<UInt64>.self) }
    }

    /// `atom`/`red`: lanes apply their operations one after another; global memory uses hardware atomics
    /// because other blocks run concurrently on other threads.
    func atomic(_ ins: Inst, _ m: UInt32, _ R: Lanes, _ w: Int) {
        let space = MemorySpace(rawValue: ins.space)!
        let t = ins.type
        let size = t.bytes
        let op = AtomicOp(rawValue: ins.mode)!
        let base = ins.a >= 0 ? R + Int(ins.a) &<< 5 : nil
        let b = R + Int(ins.b) &<< 5
        let c = R + Int(max(ins.c, 0)) &<< 5
        let d = ins.op == .atom ? R + Int(ins.d) &<< 5 : nil
        forLanes(m) { l in
            guard fault == nil else { return }
            let addr = (base?[l] ?? 0) &+ UInt64(bitPattern: ins.imm)
            guard let p = translate(space, addr, size, l, w, write: true, ins) else { return }
            let old: UInt64
            if t.isHalfPrecision {
                old = atomicHalf(p, op, t, b[l])
            } else if size == 8 {
                old = atomic64(p.assumingMemoryBound(to: UInt64.self), op, t, b[l], c[l])
            } else {
                old = UInt64(atomic32(p.assumingMemoryBound(to: UInt32.self), op, t, lo32(b[l]), lo32(c[l])))
            }
            d?[l] = extend(old, t)
        }
    }

    /// Half-precision `atom`: a compare-and-swap loop on the aligned 32-bit word holding the value(s),
    /// each half rounded once to its format.
    func atomicHalf(_ p: UnsafeMutableRawPointer, _ op: AtomicOp, _ t: ScalarType, _ v: UInt64) -> UInt64 {
        let format: HalfFormat = t == .f16 || t == .f16x2 ? .f16 : .bf16
        let address = UInt(bitPattern: p)
        let word = UnsafeMutablePointer<UInt32>(bitPattern: address & ~3)!
        let shift = UInt32((address & 2) * 8)
        let pairs = t == .f16x2 || t == .bf16x2
        @inline(__always) func apply(_ x: UInt16, _ y: UInt16) -> UInt16 {
            let a = format.decode(x), b = format.decode(y)
            switch op {
            case .min: return a.isNaN ? y : (b.isNaN ? x : (b < a ? y : x))
            case .max: return a.isNaN ? y : (b.isNaN ? x : (b > a ? y : x))
            default:
                let (hi, lo) = twoSum(a, b)
                return format.encode(hi, tail: lo)
            }
        }
        var old = tsim_atomic_load_u32(word)
        while true {
            let new: UInt32
            if pairs {
                new = UInt32(apply(UInt16(truncatingIfNeeded: old), UInt16(truncatingIfNeeded: v)))
                    | UInt32(apply(UInt16(truncatingIfNeeded: old >> 16), UInt16(truncatingIfNeeded: v >> 16))) << 16
            } else {
                let current = UInt16(truncatingIfNeeded: old >> shift)
                new = (old & ~(0xFFFF << shift)) | UInt32(apply(current, UInt16(truncatingIfNeeded: v))) << shift
            }
            let seen = tsim_atomic_cas_u32(word, old, new)
            if seen == old { return pairs ? UInt64(old) : UInt64((old >> shift) & 0xFFFF) }
            old = seen
        }
    }

    @inline(__always)
    func atomic32(_ p: UnsafeMutablePointer<UInt32>, _ op: AtomicOp, _ t: ScalarType, _ v: UInt32, _ cv: UInt32) -> UInt32 {
        switch op {
        case .add where t != .f32: return tsim_atomic_add_u32(p, v)
        case .and: return tsim_atomic_and_u32(p, v)
        case .or: return tsim_atomic_or_u32(p, v)
        case .xor: return tsim_atomic_xor_u32(p, v)
        case .exch: return tsim_atomic_exch_u32(p, v)
        case .cas: return tsim_atomic_cas_u32(p, v, cv)
        default:
            var old = tsim_atomic_load_u32(p)
            while true {
                let new: UInt32
                switch op {
                case .add: new = (Float(bitPattern: old) + Float(bitPattern: v)).bitPattern
                case .min: new = t.isSigned ? UInt32(bitPattern: min(Int32(bitPattern: old), Int32(bitPattern: v))) : min(old, v)
                case .max: new = t.isSigned ? UInt32(bitPattern: max(Int32(bitPattern: old), Int32(bitPattern: v))) : max(old, v)
                case .inc: new = old >= v ? 0 : old &+ 1
                case .dec: new = (old == 0 || old > v) ? v : old &- 1
                default: new = old
                }
                let seen = tsim_atomic_cas_u32(p, old, new)
                if seen == old { return old }
                old = seen
            }
        }
    }

    @inline(__always)
    func atomic64(_ p: UnsafeMutablePointer<UInt64>, _ op: AtomicOp, _ t: ScalarType, _ v: UInt64, _ cv: UInt64) -> UInt64 {
        switch op {
        case .add where t != .f64: return tsim_atomic_add_u64(p, v)
        case .and: return tsim_atomic_and_u64(p, v)
        case .or: return tsim_atomic_or_u64(p, v)
        case .xor: return tsim_atomic_xor_u64(p, v)
        case .exch: return tsim_atomic_exch_u64(p, v)
        case .cas: return tsim_atomic_cas_u64(p, v, cv)
        default:
            var old = tsim_atomic_load_u64(p)
            while true {
                let new: UInt64
                switch op {
                case .add: new = (Double(bitPattern: old) + Double(bitPattern: v)).bitPattern
                case .min: new = t.isSigned ? UInt64(bitPattern: min(Int64(bitPattern: old), Int64(bitPattern: v))) : min(old, v)
                case .max: new = t.isSigned ? UInt64(bitPattern: max(Int64(bitPattern: old), Int64(bitPattern: v))) : max(old, v)
                case .inc: new = old >= v ? 0 : old &+ 1
                case .dec: new = (old == 0 || old > v) ? v : old &- 1
                default: new = old
                }
                let seen = tsim_atomic_cas_u64(p, old, new)
                if seen == old { return old }
                old = seen
            }
        }
    }

    /// `shfl`: every lane reads its source lane's value as it was before the instruction.
    func shuffle(_ ins: Inst, _ m: UInt32, _ R: Lanes, _ P: UnsafeMutablePointer<UInt32>) {
        let a = R + Int(ins.a) &<< 5
        let b = R + Int(ins.b) &<< 5
        let c = R + Int(ins.c) &<< 5
        let d = R + Int(ins.d) &<< 5
        let src = scratch
        src.update(from: a, count: 32)
        var inRange: UInt32 = 0
        let mode = ShuffleMode(rawValue: ins.mode)!
        forLanes(m) { lane in
            let bval = Int(lo32(b[lane]) & 0x1F)
            let cval = Int(lo32(c[lane]) & 0x1F)
            let segmask = Int((lo32(c[lane]) >> 8) & 0x1F)
            let maxLane = (lane & segmask) | (cval & ~segmask)
            let minLane = lane & segmask
            var j: Int
            let ok: Bool
            switch mode {
            case .up: j = lane - bval; ok = j >= maxLane
            case .down: j = lane + bval; ok = j <= maxLane
            case .bfly: j = lane ^ bval; ok = j <= maxLane
            case .idx: j = minLane | (bval & ~segmask); ok = j <= maxLane
            }
            if !ok { j = lane }
            d[lane] = src[j & 31] & 0xFFFF_FFFF
            if ok { inRange |= 1 << lane }
        }
        if ins.d2 >= 0 { P[Int(ins.d2)] = (P[Int(ins.d2)] & ~m) | inRange }
    }
}
