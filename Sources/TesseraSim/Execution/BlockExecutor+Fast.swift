import CTesseraSimSupport

extension BlockExecutor {
    /// Executes an instruction that has a ``FastOp`` form for the lanes in `m` (not empty). Returns false when
    /// the fast form cannot decide (a memory access that leaves the region it checks: possibly a fault, or
    /// another allocation); the caller then takes the general path, which handles every case.
    @inline(__always)
    func fastExecute(_ ip: UnsafeMutablePointer<Inst>, _ pc: Int, _ m: UInt32, _ R: Lanes, _ P: UnsafeMutablePointer<UInt32>) -> Bool {
        let d = R + Int(ip.pointee.d) &<< 5
        let a = R + Int(ip.pointee.a) &<< 5
        // b and c may be absent (-1) for some forms; they are only read by forms that have them.
        let b = R + Int(ip.pointee.b) &<< 5
        let c = R + Int(ip.pointee.c) &<< 5
        let fast = ip.pointee.fast
        switch fast {
        case .none: return false
        case .mov: forLanes(m) { d[$0] = a[$0] }
        case .add32: forLanes(m) { d[$0] = u64(lo32(a[$0]) &+ lo32(b[$0])) }
        case .add64: forLanes(m) { d[$0] = a[$0] &+ b[$0] }
        case .sub32: forLanes(m) { d[$0] = u64(lo32(a[$0]) &- lo32(b[$0])) }
        case .sub64: forLanes(m) { d[$0] = a[$0] &- b[$0] }
        case .mulLo32: forLanes(m) { d[$0] = u64(lo32(a[$0]) &* lo32(b[$0])) }
        case .mulLo64: forLanes(m) { d[$0] = a[$0] &* b[$0] }
        case .madLo32: forLanes(m) { d[$0] = u64(lo32(a[$0]) &* lo32(b[$0]) &+ lo32(c[$0])) }
        case .madLo64: forLanes(m) { d[$0] = a[$0] &* b[$0] &+ c[$0] }
        case .mulWideU32: forLanes(m) { d[$0] = UInt64(lo32(a[$0])) &* UInt64(lo32(b[$0])) }
        case .mulWideS32: forLanes(m) { d[$0] = UInt64(bitPattern: Int64(s32(a[$0])) &* Int64(s32(b[$0]))) }
        case .and: forLanes(m) { d[$0] = a[$0] & b[$0] }
        case .or: forLanes(m) { d[$0] = a[$0] | b[$0] }
        case .xor: forLanes(m) { d[$0] = a[$0] ^ b[$0] }
        case .shl32:
            forLanes(m) { l in
                let k = lo32(b[l])
                d[l] = k >= 32 ? 0 : u64(lo32(a[l]) &<< k)
            }
        case .shrU32:
            forLanes(m) { l in
                let k = lo32(b[l])
                d[l] = k >= 32 ? 0 : u64(lo32(a[l]) &>> k)
            }
        case .shrS32: forLanes(m) { l in d[l] = u64(UInt32(bitPattern: s32(a[l]) &>> Int32(Swift.min(lo32(b[l]), 31)))) }
        case .shl64:
            forLanes(m) { l in
                let k = UInt64(lo32(b[l]))
                d[l] = k >= 64 ? 0 : a[l] &<< k
            }
        case .cvtSext32: forLanes(m) { d[$0] = sx(s32(a[$0])) }
        case .cvtZext32: forLanes(m) { d[$0] = a[$0] & 0xFFFF_FFFF }
        case .cvtCopy64, .cvtaGlobal: forLanes(m) { d[$0] = a[$0] }
        case .setpS32Lt: setPredicate(ip, m, P) { s32(a[$0]) < s32(b[$0]) }
        case .setpS32Le: setPredicate(ip, m, P) { s32(a[$0]) <= s32(b[$0]) }
        case .setpS32Gt: setPredicate(ip, m, P) { s32(a[$0]) > s32(b[$0]) }
        case .setpS32Ge: setPredicate(ip, m, P) { s32(a[$0]) >= s32(b[$0]) }
        case .setp32Eq: setPredicate(ip, m, P) { lo32(a[$0]) == lo32(b[$0]) }
        case .setp32Ne: setPredicate(ip, m, P) { lo32(a[$0]) != lo32(b[$0]) }
        case .setpU32Lt: setPredicate(ip, m, P) { lo32(a[$0]) < lo32(b[$0]) }
        case .setpU32Le: setPredicate(ip, m, P) { lo32(a[$0]) <= lo32(b[$0]) }
        case .setpU32Gt: setPredicate(ip, m, P) { lo32(a[$0]) > lo32(b[$0]) }
        case .setpU32Ge: setPredicate(ip, m, P) { lo32(a[$0]) >= lo32(b[$0]) }
        case .setpS64Lt: setPredicate(ip, m, P) { Int64(bitPattern: a[$0]) < Int64(bitPattern: b[$0]) }
        case .setpS64Ge: setPredicate(ip, m, P) { Int64(bitPattern: a[$0]) >= Int64(bitPattern: b[$0]) }
        case .setpU64Lt: setPredicate(ip, m, P) { a[$0] < b[$0] }
        case .setpU64Ge: setPredicate(ip, m, P) { a[$0] >= b[$0] }
        // Ordered comparisons: false when either side is NaN, as Float's operators are.
        case .setpF32Lt: setPredicate(ip, m, P) { f32(a[$0]) < f32(b[$0]) }
        case .setpF32Le: setPredicate(ip, m, P) { f32(a[$0]) <= f32(b[$0]) }
        case .setpF32Gt: setPredicate(ip, m, P) { f32(a[$0]) > f32(b[$0]) }
        case .setpF32Ge: setPredicate(ip, m, P) { f32(a[$0]) >= f32(b[$0]) }
        case .selp:
            var p = P[Int(ip.pointee.c)]
            if ip.pointee.flags & InstFlags.negateC != 0 { p = ~p }
            forLanes(m) { l in d[l] = (p >> UInt32(l)) & 1 != 0 ? a[l] : b[l] }
        case .fadd32: forLanes(m) { d[$0] = bits(f32(a[$0]) + f32(b[$0])) }
        case .fsub32: forLanes(m) { d[$0] = bits(f32(a[$0]) - f32(b[$0])) }
        case .fmul32: forLanes(m) { d[$0] = bits(f32(a[$0]) * f32(b[$0])) }
        case .ffma32: tsim_fma_f32_lanes(d, a, b, c, m)
        case .fadd64: forLanes(m) { d[$0] = bits(f64(a[$0]) + f64(b[$0])) }
        case .fsub64: forLanes(m) { d[$0] = bits(f64(a[$0]) - f64(b[$0])) }
        case .fmul64: forLanes(m) { d[$0] = bits(f64(a[$0]) * f64(b[$0])) }
        case .ffma64: tsim_fma_f64_lanes(d, a, b, c, m)
        case .ldShared32:
            let imm = UInt64(bitPattern: ip.pointee.imm)
            if m == .max, let contiguous = contiguousShared(a, imm, 4) {
                // A whole warp reading one word (broadcast) or 32 consecutive words: one check, then a plain copy.
                if contiguous.uniform {
                    let v = UInt64(word(contiguous.pointer, 0, UInt32.self))
                    for l in 0..<32 { d[l] = v }
                } else {
                    for l in 0..<32 { d[l] = UInt64(word(contiguous.pointer, l &* 4, UInt32.self)) }
                }
                return true
            }
            guard let region = sharedRegion(a, imm, m, 4) else { return false }
            forLanes(m) { l in d[l] = UInt64(word(region, Int(truncatingIfNeeded: a[l]), UInt32.self)) }
        case .ldShared64:
            guard let region = sharedRegion(a, UInt64(bitPattern: ip.pointee.imm), m, 8) else { return false }
            forLanes(m) { l in d[l] = word(region, Int(truncatingIfNeeded: a[l]), UInt64.self) }
        case .ldGlobal32:
            guard let region = globalRegion(pc, a, UInt64(bitPattern: ip.pointee.imm), m, 4) else { return false }
            forLanes(m) { l in d[l] = UInt64(word(region, Int(truncatingIfNeeded: a[l]), UInt32.self)) }
        case .ldGlobal64:
            guard let region = globalRegion(pc, a, UInt64(bitPattern: ip.pointee.imm), m, 8) else { return false }
            forLanes(m) { l in d[l] = word(region, Int(truncatingIfNeeded: a[l]), UInt64.self) }
        case .stShared32:
            guard let region = sharedRegion(a, UInt64(bitPattern: ip.pointee.imm), m, 4) else { return false }
            forLanes(m) { l in setWord(region, Int(truncatingIfNeeded: a[l]), UInt32(truncatingIfNeeded: b[l])) }
        case .stShared64:
            guard let region = sharedRegion(a, UInt64(bitPattern: ip.pointee.imm), m, 8) else { return false }
            forLanes(m) { l in setWord(region, Int(truncatingIfNeeded: a[l]), b[l]) }
        case .stGlobal32:
            guard let region = globalRegion(pc, a, UInt64(bitPattern: ip.pointee.imm), m, 4) else { return false }
            forLanes(m) { l in setWord(region, Int(truncatingIfNeeded: a[l]), UInt32(truncatingIfNeeded: b[l])) }
        case .ldParam32, .ldParamS32, .ldParam64:
            let imm = Int(ip.pointee.imm)
            let size = fast == .ldParam64 ? 8 : 4
            guard imm >= 0, imm + size <= paramsSize else { return false }
            let v: UInt64
            switch fast {
            case .ldParam32: v = UInt64(params.loadUnaligned(fromByteOffset: imm, as: UInt32.self))
            case .ldParamS32: v = UInt64(bitPattern: Int64(params.loadUnaligned(fromByteOffset: imm, as: Int32.self)))
            default: v = params.loadUnaligned(fromByteOffset: imm, as: UInt64.self)
            }
            forLanes(m) { d[$0] = v }
        case .stGlobal64:
            guard let region = globalRegion(pc, a, UInt64(bitPattern: ip.pointee.imm), m, 8) else { return false }
            forLanes(m) { l in setWord(region, Int(truncatingIfNeeded: a[l]), b[l]) }
        case .ldVector, .stVector:
            let words = Int(ip.pointee.count)
            let wide = ip.pointee.type.bytes == 8
            let total = UInt64(words &* ip.pointee.type.bytes)
            let imm = UInt64(bitPattern: ip.pointee.imm)
            let shared = ip.pointee.space == MemorySpace.shared.rawValue
            guard let region = shared ? sharedRegion(a, imm, m, total) : globalRegion(pc, a, imm, m, total) else { return false }
            let slots = vectorSlots + Int(ip.pointee.e)
            if fast == .ldVector {
                loadVector(region, a, m, R, slots: slots, words: words, wide: wide)
            } else {
                storeVector(region, a, m, R, slots: slots, words: words, wide: wide)
            }
        }
        return true
    }

    /// Each lane of `m` reads its whole vector with one access (as `loadWhole` does: a concurrent writer's vector
    /// is never seen half old) and spreads the components into their registers, zero-extended.
    @inline(__always)
    func loadVector(_ region: UnsafeMutableRawPointer, _ a: Lanes, _ m: UInt32, _ R: Lanes,
                    slots: UnsafeMutablePointer<Int32>, words: Int, wide: Bool) {
        let d0 = R + Int(slots[0]) &<< 5, d1 = R + Int(slots[1]) &<< 5
        if wide {
            forLanes(m) { l in
                let v = (region + Int(truncatingIfNeeded: a[l])).assumingMemoryBound(to: SIMD2<UInt64>.self).pointee
                d0[l] = v[0]
                d1[l] = v[1]
            }
        } else if words == 2 {
            forLanes(m) { l in
                let v = word(region, Int(truncatingIfNeeded: a[l]), UInt64.self)
                d0[l] = v & 0xFFFF_FFFF
                d1[l] = v >> 32
            }
        } else {
            let d2 = R + Int(slots[2]) &<< 5, d3 = R + Int(slots[3]) &<< 5
            forLanes(m) { l in
                let v = (region + Int(truncatingIfNeeded: a[l])).assumingMemoryBound(to: SIMD4<UInt32>.self).pointee
                d0[l] = UInt64(v[0])
                d1[l] = UInt64(v[1])
                d2[l] = UInt64(v[2])
                d3[l] = UInt64(v[3])
            }
        }
    }

    /// Each lane of `m` assembles its vector from its components' registers (low 32 bits for 4-byte words) and
    /// writes it with one access.
    @inline(__always)
    func storeVector(_ region: UnsafeMutableRawPointer, _ a: Lanes, _ m: UInt32, _ R: Lanes,
                     slots: UnsafeMutablePointer<Int32>, words: Int, wide: Bool) {
        let s0 = R + Int(slots[0]) &<< 5, s1 = R + Int(slots[1]) &<< 5
        if wide {
            forLanes(m) { l in
                (region + Int(truncatingIfNeeded: a[l])).assumingMemoryBound(to: SIMD2<UInt64>.self).pointee = SIMD2(s0[l], s1[l])
            }
        } else if words == 2 {
            forLanes(m) { l in setWord(region, Int(truncatingIfNeeded: a[l]), (s0[l] & 0xFFFF_FFFF) | (s1[l] << 32)) }
        } else {
            let s2 = R + Int(slots[2]) &<< 5, s3 = R + Int(slots[3]) &<< 5
            forLanes(m) { l in
                (region + Int(truncatingIfNeeded: a[l])).assumingMemoryBound(to: SIMD4<UInt32>.self).pointee =
                    SIMD4(UInt32(truncatingIfNeeded: s0[l]), UInt32(truncatingIfNeeded: s1[l]),
                          UInt32(truncatingIfNeeded: s2[l]), UInt32(truncatingIfNeeded: s3[l]))
            }
        }
    }

    /// The word at `offset` bytes from `base` (aligned: the callers check). Typed access, which the optimiser always
    /// inlines; the raw pointer's generic `load(fromByteOffset:as:)` is not inlined in every build configuration.
    @inline(__always)
    func word<T: FixedWidthInteger>(_ base: UnsafeMutableRawPointer, _ offset: Int, _ type: T.Type) -> T {
        (base + offset).assumingMemoryBound(to: T.self).pointee
    }

    @inline(__always)
    func setWord<T: FixedWidthInteger>(_ base: UnsafeMutableRawPointer, _ offset: Int, _ value: T) {
        (base + offset).assumingMemoryBound(to: T.self).pointee = value
    }

    /// `setp` without a combining predicate: the result and (if named) its complement, for the lanes of `m`.
    @inline(__always)
    func setPredicate(_ ip: UnsafeMutablePointer<Inst>, _ m: UInt32, _ P: UnsafeMutablePointer<UInt32>, _ test: (Int) -> Bool) {
        var r: UInt32 = 0
        forLanes(m) { l in if test(l) { r |= 1 << UInt32(l) } }
        r &= m
        let d = Int(ip.pointee.d), d2 = Int(ip.pointee.d2)
        P[d] = (P[d] & ~m) | r
        if d2 >= 0 { P[d2] = (P[d2] & ~m) | (~r & m) }
    }

    /// For a full warp's shared-memory access of `size` bytes at `base[l] + imm`: when every lane addresses the
    /// same word (`uniform`) or lane `l` addresses the first lane's address plus `l * size`, and the whole span is
    /// aligned and inside shared memory, its host address; nil otherwise.
    @inline(__always)
    func contiguousShared(_ base: Lanes, _ imm: UInt64, _ size: UInt64) -> (pointer: UnsafeMutableRawPointer, uniform: Bool)? {
        let first = base[0], last = base[31]
        // Cheap rejection first (lanes 0 and 31), so other patterns pay almost nothing for this path.
        guard last == first || last == first &+ 31 &* size else { return nil }
        var sameDiff: UInt64 = 0, strideDiff: UInt64 = 0
        for l in 0..<32 {
            let x = base[l]
            sameDiff |= x ^ first
            strideDiff |= x ^ (first &+ UInt64(truncatingIfNeeded: l) &* size)
        }
        let uniform = sameDiff == 0
        guard uniform || strideDiff == 0 else { return nil }
        let start = first &+ imm
        let length = uniform ? size : size &* 32
        let limit = UInt64(sharedSize)
        guard limit >= length, start <= limit &- length, start & (size &- 1) == 0 else { return nil }
        return (shared + Int(start), uniform)
    }

    /// For a shared-memory access of `size` bytes at `base[l] + imm` by every lane of `m`: the host address
    /// that lane offsets `base[l]` are relative to, when every access is aligned and inside the block's shared
    /// memory; nil otherwise (the general path then faults or handles it).
    @inline(__always)
    func sharedRegion(_ base: Lanes, _ imm: UInt64, _ m: UInt32, _ size: UInt64) -> UnsafeMutableRawPointer? {
        let limit = UInt64(sharedSize)
        guard limit >= size else { return nil }
        return checkedRegion(base, imm, m, size, span: limit &- size, host: shared, origin: 0)
    }

    /// As ``sharedRegion``, for global memory: the allocation this instruction (`pc`) accessed last time, or
    /// else the one its first active lane addresses. A per-instruction memory keeps kernels that stream through
    /// several arrays (`c[i] = a[i] + b[i]`) from missing on every access.
    @inline(__always)
    func globalRegion(_ pc: Int, _ base: Lanes, _ imm: UInt64, _ m: UInt32, _ size: UInt64) -> UnsafeMutableRawPointer? {
        let entry = regions + pc
        if entry.pointee.end > entry.pointee.base, entry.pointee.end &- entry.pointee.base >= size, let storage = entry.pointee.storage,
           let r = checkedRegion(base, imm, m, size, span: entry.pointee.end &- entry.pointee.base &- size, host: storage, origin: entry.pointee.base) {
            return r
        }
        guard let a = memory.find(base[m.trailingZeroBitCount] &+ imm, length: Int(size)), a.end &- a.base >= size else { return nil }
        entry.pointee = RegionCacheEntry(base: a.base, end: a.end, storage: a.storage)
        return checkedRegion(base, imm, m, size, span: a.end &- a.base &- size, host: a.storage, origin: a.base)
    }

    /// Offsets are checked with subtractions and ORs only, which vectorise: `span - offset` or `offset` has its
    /// top bit set exactly when the offset is outside [0, span]. The returned pointer is `host - origin + imm`,
    /// so that lane `l`'s host address is it plus `base[l]`.
    @inline(__always)
    func checkedRegion(_ base: Lanes, _ imm: UInt64, _ m: UInt32, _ size: UInt64, span: UInt64, host: UnsafeMutableRawPointer, origin: UInt64) -> UnsafeMutableRawPointer? {
        let start = imm &- origin
        var outside: UInt64 = 0, offsets: UInt64 = 0
        forLanes(m) { l in
            let off = base[l] &+ start
            outside |= (span &- off) | off
            offsets |= off
        }
        guard outside >> 63 == 0 && offsets & (size &- 1) == 0 else { return nil }
        return host + Int(truncatingIfNeeded: start)
    }
}
