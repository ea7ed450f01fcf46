/// Decodes one PTX `.entry` (with every `.func` it calls inlined) into a ``Program``: a flat array of
/// typed instructions over register-file slots, with labels resolved and module symbols linked to the
/// addresses they have in one context. Anything the interpreter cannot execute fails here, by name.
struct ProgramBuilder {
    let module: ParsedModule
    /// Device addresses of the module's global and constant variables in the loading context.
    let symbols: [String: UInt64]
    let device: DeviceProperties

    func build(entry: ParsedFunction) throws(SimError) -> Program {
        var e = Emitter(builder: self, entry: entry)
        try e.run()
        return e.finish()
    }
}

/// Where a name resolves within the function being emitted.
private enum Binding {
    case register(Int32)
    case predicate(Int32)
    /// A `.param` mapped into per-thread local memory at this offset (call-site and callee parameters).
    case localParam(Int)
    /// A kernel parameter at this offset of the parameter buffer.
    case kernelParam(Int)
    /// A function-scope `.local` variable.
    case local(Int)
}

private struct Scope {
    var names: [String: Binding] = [:]
    /// Label prefix of the inlined function (empty for the entry).
    var prefix: String
    /// Label to branch to on `ret` (nil in the entry: `ret` exits).
    var returnLabel: String?
    var function: String
}

private struct Emitter {
    let builder: ProgramBuilder
    let entry: ParsedFunction

    var code: [Inst] = []
    var labels: [String: Int] = [:]
    var fixups: [(Int, String, Int)] = []  // (instruction index, label, line)
    var slotCount: Int32 = 0
    var predicateCount: Int32 = 0
    var constants: [UInt64: Int32] = [:]
    var specials: [SpecialRegister: Int32] = [:]
    var vectorSlots: [Int32] = []
    var localBytes = 0
    var sharedOffsets: [String: Int] = [:]
    var staticSharedBytes = 0
    var dynamicSharedBase = 0
    var declaredRegisters = 0
    var inlineCounter = 0
    var callStack: [String] = []
    var parameters: [KernelParameter] = []
    var scopes: [Scope] = []
    var carrySlot: Int32 = -1

    init(builder: ProgramBuilder, entry: ParsedFunction) {
        self.builder = builder
        self.entry = entry
    }

    func fail(_ line: Int, _ message: String) -> SimError {
        SimError(.invalidImage, "PTX line \(line) (\(entry.name)): \(message)")
    }

    func unsupported(_ ins: ParsedInstruction, _ why: String = "") -> SimError {
        SimError(.notSupported, "PTX instruction '\(ins.text)' at line \(ins.line) in \(entry.name) is not supported by the simulated GPU\(why.isEmpty ? "" : ": " + why)")
    }

    // MARK: Driver

    mutating func run() throws(SimError) {
        try layoutShared()
        var scope = Scope(prefix: "", returnLabel: nil, function: entry.name)
        var offset = 0
        for p in entry.parameters {
            offset = (offset + p.alignment - 1) / p.alignment * p.alignment
            parameters.append(KernelParameter(offset: offset, size: p.size, alignment: p.alignment))
            scope.names[p.name] = .kernelParam(offset)
            offset += p.size
        }
        carrySlot = newSlot()
        scopes.append(scope)
        callStack.append(entry.name)
        try emitBody(entry.body)
        // Falling off the end of a kernel exits.
        code.append(Inst(op: .exit, line: Int32(entry.line)))
        for (index, label, line) in fixups {
            guard let target = labels[label] else { throw fail(line, "unknown label \(label)") }
            code[index].imm = Int64(target)
        }
    }

    func finish() -> Program {
        Program(
            name: entry.name, code: code, slotCount: Int(slotCount), predicateCount: Int(max(predicateCount, 1)),
            constants: constants.map { ($0.value, $0.key) }.sorted { $0.0 < $1.0 },
            specials: specials.map { ($0.value, $0.key) }.sorted { $0.0 < $1.0 },
            vectorSlots: vectorSlots, parameters: parameters, staticSharedBytes: staticSharedBytes,
            localBytesPerThread: localBytes, declaredRegisterCount: declaredRegisters, carrySlot: carrySlot,
            truePredicates: constantPredicates.filter(\.1).map(\.0))
    }

    /// Lays out the shared variables this kernel (and what it calls) references; dynamic shared memory follows.
    mutating func layoutShared() throws(SimError) {
        var referenced = Set<String>()
        var visited = Set<String>()
        func collect(_ f: ParsedFunction) {
            guard visited.insert(f.name).inserted else { return }
            for s in f.body {
                switch s {
                case .instruction(let ins):
                    for o in ins.operands { names(in: o, into: &referenced) }
                    if ins.opcode == "call", let callee = calleeName(ins), let g = builder.module.function(named: callee) { collect(g) }
                case .variable(let v) where v.space == .shared:
                    referenced.insert(v.name)
                default: break
                }
            }
        }
        collect(entry)
        var sharedVars = builder.module.variables.filter { $0.space == .shared }
        for f in builder.module.functions where visited.contains(f.name) {
            for case .variable(let v) in f.body where v.space == .shared { sharedVars.append(v) }
        }
        var offset = 0
        var dynamicNames: [String] = []
        for v in sharedVars where referenced.contains(v.name) {
            if v.size == 0 && v.isExtern || v.size == 0 { dynamicNames.append(v.name); continue }
            offset = (offset + v.alignment - 1) / v.alignment * v.alignment
            sharedOffsets[v.name] = offset
            offset += v.size
        }
        staticSharedBytes = offset
        dynamicSharedBase = (offset + 15) / 16 * 16
        for n in dynamicNames { sharedOffsets[n] = dynamicSharedBase }
    }

    func names(in o: Operand, into set: inout Set<String>) {
        switch o {
        case .symbol(let s): set.insert(s)
        case .address(let base?, _): set.insert(base)
        case .vector(let xs), .list(let xs): for x in xs { names(in: x, into: &set) }
        case .pair(let a, let b): names(in: a, into: &set); names(in: b, into: &set)
        case .negated(let a): names(in: a, into: &set)
        default: break
        }
    }

    func calleeName(_ ins: ParsedInstruction) -> String? {
        for o in ins.operands { if case .symbol(let s) = o { return s } }
        return nil
    }

    // MARK: Slots

    mutating func newSlot() -> Int32 {
        defer { slotCount += 1 }
        return slotCount
    }

    mutating func constant(_ value: UInt64) -> Int32 {
        if let s = constants[value] { return s }
        let s = newSlot()
        constants[value] = s
        return s
    }

    mutating func special(_ r: SpecialRegister) -> Int32 {
        if let s = specials[r] { return s }
        let s = newSlot()
        specials[r] = s
        return s
    }

    mutating func allocateLocal(size: Int, alignment: Int) -> Int {
        let a = max(alignment, 1)
        localBytes = (localBytes + a - 1) / a * a
        defer { localBytes += max(size, 1) }
        return localBytes
    }

    func lookup(_ name: String) -> Binding? {
        scopes.last!.names[name]
    }

    // MARK: Bodies

    mutating func emitBody(_ body: [Statement]) throws(SimError) {
        // `{ … }` blocks scope their declarations: inline-asm blocks redeclare names like %r1 that the
        // enclosing function also uses, so the outer bindings come back at the closing brace.
        var saved: [[String: Binding]] = []
        for s in body {
            switch s {
            case .label(let l):
                labels[scopes.last!.prefix + l] = code.count
            case .registers(let names, let isPredicate):
                for n in names {
                    if isPredicate {
                        scopes[scopes.count - 1].names[n] = .predicate(predicateCount)
                        predicateCount += 1
                    } else {
                        scopes[scopes.count - 1].names[n] = .register(newSlot())
                        declaredRegisters += 1
                    }
                }
            case .variable(let v):
                switch v.space {
                case .local:
                    scopes[scopes.count - 1].names[v.name] = .local(allocateLocal(size: v.size, alignment: v.alignment))
                case .param:
                    scopes[scopes.count - 1].names[v.name] = .localParam(allocateLocal(size: v.size, alignment: v.alignment))
                case .shared:
                    break  // laid out by layoutShared
                default:
                    throw fail(0, "unexpected \(v.space) variable \(v.name) in a function body")
                }
            case .blockOpen:
                saved.append(scopes[scopes.count - 1].names)
            case .blockClose:
                if let names = saved.popLast() { scopes[scopes.count - 1].names = names }
            case .instruction(let ins):
                try emit(ins)
            }
        }
    }

    // MARK: Operands

    /// The slot holding a source operand's value.
    mutating func source(_ o: Operand, _ ins: ParsedInstruction, type: ScalarType) throws(SimError) -> Int32 {
        switch o {
        case .register(let name), .symbol(let name):
            if let b = lookup(name) {
                switch b {
                case .register(let s): return s
                case .predicate: throw fail(ins.line, "predicate \(name) used as a value in \(ins.text)")
                case .localParam(let off), .local(let off): return constant(UInt64(off))
                case .kernelParam(let off): return constant(UInt64(off))
                }
            }
            if let sr = SpecialRegister(name) { return special(sr) }
            if name == "WARP_SZ" { return constant(32) }  // PTX's predefined warp-size constant
            if name == "%clock" || name == "%clock64" || name == "%globaltimer" || name == "%clock_hi" || name == "%globaltimer_lo" {
                throw unsupported(ins, "\(name) is only readable by mov")
            }
            if let address = try symbolValue(name, ins) { return constant(address) }
            throw fail(ins.line, "unknown name \(name)")
        case .integer(let v):
            return constant(UInt64(bitPattern: v))
        case .float(let bits, let width):
            switch (type, width) {
            case (.f32, 64): return constant(UInt64(Float(Double(bitPattern: bits)).bitPattern))
            case (.f64, 32): return constant(Double(Float(bitPattern: UInt32(bits))).bitPattern)
            case (.f16, 32): return constant(UInt64(Float16(Float(bitPattern: UInt32(bits))).bitPattern))
            case (.f16, 64): return constant(UInt64(Float16(Double(bitPattern: bits)).bitPattern))
            case (.bf16, 32): return constant(UInt64(HalfFormat.bf16.encode(Double(Float(bitPattern: UInt32(bits))))))
            case (.bf16, 64): return constant(UInt64(HalfFormat.bf16.encode(Double(bitPattern: bits))))
            default: return constant(bits)
            }
        default:
            throw fail(ins.line, "unexpected operand in \(ins.text)")
        }
    }

    /// The value of a module symbol used as an address: global/const absolute address, shared offset.
    mutating func symbolValue(_ name: String, _ ins: ParsedInstruction) throws(SimError) -> UInt64? {
        if let a = builder.symbols[name] { return a }
        if let off = sharedOffsets[name] { return UInt64(off) }
        if builder.module.functions.contains(where: { $0.name == name }) {
            throw unsupported(ins, "function addresses (indirect calls) are not supported")
        }
        return nil
    }

    mutating func destination(_ o: Operand, _ ins: ParsedInstruction) throws(SimError) -> Int32 {
        switch o {
        case .register(let name), .symbol(let name):
            if case .register(let s)? = lookup(name) { return s }
            throw fail(ins.line, "\(name) is not a register in \(ins.text)")
        case .sink:
            return newScratch()
        default:
            throw fail(ins.line, "bad destination in \(ins.text)")
        }
    }

    /// A slot nobody reads (for `_` destinations).
    mutating func newScratch() -> Int32 {
        if let s = scopes.first?.names["%%sink"], case .register(let r) = s { return r }
        let r = newSlot()
        scopes[0].names["%%sink"] = .register(r)
        if scopes.count > 1 { scopes[scopes.count - 1].names["%%sink"] = .register(r) }
        return r
    }

    mutating func predicate(_ o: Operand, _ ins: ParsedInstruction) throws(SimError) -> (Int32, Bool) {
        switch o {
        case .negated(let inner):
            let (p, n) = try predicate(inner, ins)
            return (p, !n)
        case .register(let name), .symbol(let name):
            if case .predicate(let p)? = lookup(name) { return (p, false) }
            throw fail(ins.line, "\(name) is not a predicate in \(ins.text)")
        case .integer(let v):
            // Constant predicates: a dedicated always-true / always-false predicate register.
            return (constantPredicate(v != 0), false)
        case .sink:
            return (newSinkPredicate(), false)
        default:
            throw fail(ins.line, "expected a predicate in \(ins.text)")
        }
    }

    mutating func constantPredicate(_ value: Bool) -> Int32 {
        let key = value ? "%%true" : "%%false"
        if case .predicate(let p)? = scopes[0].names[key] { return p }
        let p = predicateCount
        predicateCount += 1
        scopes[0].names[key] = .predicate(p)
        constantPredicates.append((p, value))
        return p
    }
    var constantPredicates: [(Int32, Bool)] = []

    mutating func newSinkPredicate() -> Int32 {
        let p = predicateCount
        predicateCount += 1
        return p
    }

    func isPredicateOperand(_ o: Operand) -> Bool {
        switch o {
        case .negated: return true
        case .register(let n), .symbol(let n):
            if case .predicate? = lookup(n) { return true }
            return false
        default: return false
        }
    }

    /// Resolves `[base+offset]` for a memory operation: sets `a` (base slot or -1), `imm` and `space`.
    mutating func address(_ o: Operand, _ ins: ParsedInstruction, space: inout MemorySpace, into inst: inout Inst) throws(SimError) {
        guard case .address(let base, let offset) = o else { throw fail(ins.line, "expected an address in \(ins.text)") }
        inst.imm = offset
        inst.a = -1
        guard let base else { return }
        if let b = lookup(base) {
            switch b {
            case .register(let s):
                inst.a = s
                if space == .param && scopes.count > 1 { space = .local }  // a parameter's address inside an inlined function
            case .predicate: throw fail(ins.line, "predicate used as an address")
            case .kernelParam(let off):
                inst.imm += Int64(off)
                if space == .generic { space = .param }
            case .localParam(let off), .local(let off):
                inst.imm += Int64(off)
                space = .local
            }
            return
        }
        if let sr = SpecialRegister(base) { inst.a = special(sr); return }
        if let a = builder.symbols[base] {
            inst.imm = Int64(bitPattern: a &+ UInt64(bitPattern: offset))
            if space == .generic || space == .param { space = .global }
            return
        }
        if let off = sharedOffsets[base] {
            inst.imm += Int64(off)
            space = .shared
            return
        }
        throw fail(ins.line, "unknown address base \(base) in \(ins.text)")
    }

    // MARK: Instructions

    mutating func emit(_ ins: ParsedInstruction) throws(SimError) {
        var inst = Inst(op: .nop)
        inst.line = Int32(ins.line)
        if let g = ins.guardPredicate {
            guard case .predicate(let p)? = lookup(g) else { throw fail(ins.line, "unknown guard predicate \(g)") }
            inst.guardPredicate = Int16(p)
            inst.guardNegated = ins.guardNegated
        }
        let mods = ins.modifiers
        let types = mods.compactMap(ScalarType.init)
        let type = types.last ?? .b32
        inst.type = type
        let ops = ins.operands
        func has(_ m: String) -> Bool { mods.contains(m) }
        func need(_ n: Int) throws(SimError) {
            guard ops.count >= n else { throw fail(ins.line, "\(ins.text) needs \(n) operands, has \(ops.count)") }
        }
        if has("ftz") { inst.flags |= InstFlags.ftz }
        if has("sat") { inst.flags |= InstFlags.sat }
        if has("approx") { inst.flags |= InstFlags.approx }
        if let r = mods.lazy.compactMap(Rounding.init).first { inst.mode = r.rawValue }

        switch ins.opcode {
        case "mov":
            try need(2)
            if type == .pred {
                inst.op = .pMov
                inst.d = try predicate(ops[0], ins).0
                let (a, n) = try predicate(ops[1], ins)
                inst.a = a
                if n { inst.flags |= InstFlags.negateA }
            } else if case .vector(let parts) = ops[0] {
                inst.op = .unpack
                inst.a = try source(ops[1], ins, type: type)
                inst.count = UInt8(parts.count)
                inst.e = Int32(vectorSlots.count)
                for p in parts { vectorSlots.append(try destination(p, ins)) }
            } else if case .vector(let parts) = ops[1] {
                inst.op = .pack
                inst.d = try destination(ops[0], ins)
                inst.count = UInt8(parts.count)
                inst.e = Int32(vectorSlots.count)
                for p in parts { vectorSlots.append(try source(p, ins, type: .b32)) }
            } else if case .register(let name) = ops[1], ["%clock", "%clock64", "%clock_hi", "%globaltimer", "%globaltimer_lo", "%globaltimer_hi"].contains(name) {
                inst.op = .movSpecialClock
                inst.d = try destination(ops[0], ins)
                inst.mode = ["%clock": 0, "%clock64": 1, "%clock_hi": 2, "%globaltimer": 3, "%globaltimer_lo": 4, "%globaltimer_hi": 5][name]!
            } else {
                inst.op = .mov
                inst.d = try destination(ops[0], ins)
                inst.a = try source(ops[1], ins, type: type)
            }
        case "ld", "ldu":
            try need(2)
            inst.op = .ld
            var space = memorySpace(mods)
            try address(ops[1], ins, space: &space, into: &inst)
            inst.space = space.rawValue
            try vectorOrScalarDestination(ops[0], ins, into: &inst)
            if mods.contains("v8") || type == .b128 { throw unsupported(ins) }
        case "st":
            try need(2)
            inst.op = .st
            var space = memorySpace(mods)
            try address(ops[0], ins, space: &space, into: &inst)
            inst.space = space.rawValue
            if case .vector(let parts) = ops[1] {
                inst.count = UInt8(parts.count)
                inst.e = Int32(vectorSlots.count)
                for p in parts { vectorSlots.append(try source(p, ins, type: type)) }
            } else {
                inst.b = try source(ops[1], ins, type: type)
            }
            if type == .b128 { throw unsupported(ins) }
        case "atom", "red":
            inst.op = ins.opcode == "atom" ? .atom : .red
            guard let op = atomicOp(mods) else { throw unsupported(ins) }
            if mods.contains(where: { $0.hasPrefix("v") && Int($0.dropFirst()) != nil }) || type == .f16x2 || type == .bf16x2 || type == .f16 || type == .bf16 || type == .b128 {
                throw unsupported(ins)
            }
            inst.mode = op.rawValue
            var space = memorySpace(mods)
            var i = 0
            if inst.op == .atom { try need(3); inst.d = try destination(ops[0], ins); i = 1 } else { try need(2) }
            try address(ops[i], ins, space: &space, into: &inst)
            inst.space = space.rawValue
            inst.b = try source(ops[i + 1], ins, type: type)
            if op == .cas {
                try need(i + 3)
                inst.c = try source(ops[i + 2], ins, type: type)
            }
        case "cvta":
            try need(2)
            inst.op = .cvta
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .u64)
            inst.space = memorySpace(mods).rawValue
            inst.flags = has("to") ? 1 : 0
        case "isspacep":
            try need(2)
            inst.op = .isspacep
            inst.d = try predicate(ops[0], ins).0
            inst.a = try source(ops[1], ins, type: .u64)
            inst.space = memorySpace(mods).rawValue
        case "cvt":
            try need(2)
            guard types.count == 2 else { throw fail(ins.line, "cvt needs two types") }
            inst.op = .cvt
            inst.type = types[0]
            inst.type2 = types[1]
            if types[1] == .f16x2 || types[1] == .bf16x2 || types[0] == .b128 { throw unsupported(ins) }
            if mods.contains(where: { ["e4m3x2", "e5m2x2", "tf32", "e2m1x2", "e3m2x2", "e2m3x2", "ue8m0x2", "satfinite"].contains($0) }) { throw unsupported(ins) }
            if has("relu") { inst.flags |= InstFlags.relu }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: types[1])
            if types[0].isHalfPrecision || types[1].isHalfPrecision {
                inst.op = .cvtHalf
                if types[0] == .f16x2 || types[0] == .bf16x2 {
                    // cvt.rn.f16x2.f32 d, a, b: a goes to the upper half.
                    try need(3)
                    inst.b = try source(ops[2], ins, type: types[1])
                }
            } else if inst.flags & InstFlags.relu != 0 {
                throw unsupported(ins)
            }
        case "add", "sub", "mul", "mad", "fma", "div", "rem", "min", "max", "abs", "neg", "sad", "mul24", "mad24", "addc", "subc", "madc":
            try emitArithmetic(ins, &inst)
        case "and", "or", "xor", "not", "cnot":
            if type == .pred {
                inst.op = ["and": .pAnd, "or": .pOr, "xor": .pXor, "not": .pNot, "cnot": .pNot][ins.opcode]!
                inst.d = try predicate(ops[0], ins).0
                let (a, na) = try predicate(ops[1], ins)
                inst.a = a
                if na { inst.flags |= InstFlags.negateA }
                if ops.count > 2 {
                    let (b, nb) = try predicate(ops[2], ins)
                    inst.b = b
                    if nb { inst.flags |= InstFlags.negateB }
                }
            } else {
                inst.op = ["and": .and, "or": .or, "xor": .xor, "not": .not, "cnot": .cnot][ins.opcode]!
                try need(2)
                inst.d = try destination(ops[0], ins)
                inst.a = try source(ops[1], ins, type: type)
                if ops.count > 2 { inst.b = try source(ops[2], ins, type: type) }
            }
        case "shl", "shr":
            try need(3)
            inst.op = ins.opcode == "shl" ? .shl : .shr
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: .u32)
        case "popc", "clz", "brev", "bfind":
            try need(2)
            inst.op = ["popc": .popc, "clz": .clz, "brev": .brev, "bfind": .bfind][ins.opcode]!
            if has("shiftamt") { inst.flags |= InstFlags.wrap }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
        case "bfe":
            try need(4)
            inst.op = .bfe
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: .u32)
            inst.c = try source(ops[3], ins, type: .u32)
        case "bfi":
            try need(5)
            inst.op = .bfi
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: type)
            inst.c = try source(ops[3], ins, type: .u32)
            inst.e = try source(ops[4], ins, type: .u32)
        case "prmt":
            try need(4)
            inst.op = .prmt
            inst.mode = 0
            for (i, m) in ["f4e", "b4e", "rc8", "ecl", "ecr", "rc16"].enumerated() where has(m) { inst.mode = UInt8(i + 1) }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .b32)
        case "shf":
            try need(4)
            inst.op = .shf
            inst.mode = has("r") ? 1 : 0
            if has("wrap") { inst.flags |= InstFlags.wrap }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .u32)
        case "lop3":
            try need(5)
            if case .pair = ops[0] { throw unsupported(ins) }
            inst.op = .lop3
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .b32)
            guard case .integer(let lut) = ops[4] else { throw fail(ins.line, "lop3 needs an immediate LUT") }
            inst.imm = lut
        case "dp4a", "dp2a":
            try need(4)
            inst.op = ins.opcode == "dp4a" ? .dp4a : .dp2a
            inst.type = types.first ?? .u32
            inst.type2 = types.count > 1 ? types[1] : .u32
            inst.mode = has("hi") ? 1 : 0
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .b32)
            inst.c = try source(ops[3], ins, type: .b32)
        case "sqrt", "rsqrt", "rcp", "ex2", "lg2", "sin", "cos", "tanh":
            try need(2)
            if type.isHalfPrecision {
                // PTX defines ex2 and tanh (approx) on the half types.
                guard ins.opcode == "ex2" || ins.opcode == "tanh" else { throw unsupported(ins) }
                inst.op = .half
                inst.imm = Int64((ins.opcode == "ex2" ? HalfOp.ex2 : HalfOp.tanh).rawValue)
                inst.d = try destination(ops[0], ins)
                inst.a = try source(ops[1], ins, type: type)
                break
            }
            guard type == .f32 || type == .f64 else { throw unsupported(ins) }
            inst.op = ["sqrt": .fsqrt, "rsqrt": .frsqrt, "rcp": .frcp, "ex2": .fex2, "lg2": .flg2, "sin": .fsin, "cos": .fcos, "tanh": .ftanh][ins.opcode]!
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
        case "copysign":
            try need(3)
            inst.op = .copysign
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: type)
        case "testp":
            try need(2)
            inst.op = .testp
            inst.mode = 0
            for (i, m) in ["finite", "infinite", "number", "notanumber", "normal", "subnormal"].enumerated() where has(m) { inst.mode = UInt8(i) }
            inst.d = try predicate(ops[0], ins).0
            inst.a = try source(ops[1], ins, type: type)
        case "setp", "set":
            try emitCompare(ins, &inst, types: types)
        case "selp":
            try need(4)
            inst.op = .selp
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.b = try source(ops[2], ins, type: type)
            let (c, n) = try predicate(ops[3], ins)
            inst.c = c
            if n { inst.flags |= InstFlags.negateC }
        case "slct":
            try need(4)
            inst.op = .slct
            inst.type = types.first ?? .b32
            inst.type2 = types.last ?? .s32
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: inst.type)
            inst.b = try source(ops[2], ins, type: inst.type)
            inst.c = try source(ops[3], ins, type: inst.type2)
        case "bra", "brx":
            guard ins.opcode == "bra", ops.count == 1, case .symbol(let label) = ops[0] else { throw unsupported(ins) }
            inst.op = .bra
            fixups.append((code.count, scopes.last!.prefix + label, ins.line))
        case "ret":
            if let target = scopes.last!.returnLabel {
                inst.op = .bra
                fixups.append((code.count, target, ins.line))
            } else {
                inst.op = .exit
            }
        case "exit":
            inst.op = .exit
        case "call":
            try emitCall(ins, inst)
            return
        case "bar", "barrier":
            if has("warp") { inst.op = .nop; break }
            if has("arrive") { throw unsupported(ins, "bar.arrive (producer/consumer barriers)") }
            if has("red") {
                try need(3)
                inst.op = .barRed
                inst.mode = has("popc") ? 0 : (has("and") ? 1 : 2)
                inst.d = inst.mode == 0 ? try destination(ops[0], ins) : try predicate(ops[0], ins).0
                let (p, n) = try predicate(ops[ops.count - 1], ins)
                inst.c = p
                if n { inst.flags |= InstFlags.negateC }
                break
            }
            inst.op = .bar
            if ops.count > 1 { throw unsupported(ins, "barriers with a thread count") }
        case "membar", "fence":
            if mods.contains(where: { $0.hasPrefix("proxy") || $0 == "mbarrier_init" }) { inst.op = .nop; break }
            inst.op = .fence
        case "nanosleep", "prefetch", "prefetchu", "pmevent", "discard", "applypriority", "griddepcontrol":
            inst.op = .nop
        case "createpolicy":
            try need(1)
            inst.op = .mov
            inst.d = try destination(ops[0], ins)
            inst.a = constant(0)
        case "trap":
            inst.op = .trap
        case "shfl":
            try need(4)
            inst.op = .shfl
            guard let m = ["up": ShuffleMode.up, "down": .down, "bfly": .bfly, "idx": .idx].first(where: { has($0.key) })?.value else { throw unsupported(ins) }
            inst.mode = m.rawValue
            if case .pair(let d, let p) = ops[0] {
                inst.d = try destination(d, ins)
                inst.d2 = try predicate(p, ins).0
            } else {
                inst.d = try destination(ops[0], ins)
            }
            inst.a = try source(ops[1], ins, type: .b32)
            inst.b = try source(ops[2], ins, type: .u32)
            inst.c = try source(ops[3], ins, type: .u32)
            inst.e = ops.count > 4 ? try source(ops[4], ins, type: .u32) : constant(0xFFFF_FFFF)
        case "vote":
            try need(2)
            inst.op = .vote
            guard let m = ["all": VoteMode.all, "any": .any, "uni": .uni, "ballot": .ballot].first(where: { has($0.key) })?.value else { throw unsupported(ins) }
            inst.mode = m.rawValue
            if m == .ballot { inst.d = try destination(ops[0], ins) } else { inst.d = try predicate(ops[0], ins).0 }
            let (a, n) = try predicate(ops[1], ins)
            inst.a = a
            if n { inst.flags |= InstFlags.negateA }
            inst.e = ops.count > 2 ? try source(ops[2], ins, type: .u32) : constant(0xFFFF_FFFF)
        case "activemask":
            try need(1)
            inst.op = .activemask
            inst.d = try destination(ops[0], ins)
        case "match":
            try need(3)
            inst.op = .match
            inst.mode = has("all") ? 1 : 0
            if case .pair(let d, let p) = ops[0] {
                inst.d = try destination(d, ins)
                inst.d2 = try predicate(p, ins).0
            } else {
                inst.d = try destination(ops[0], ins)
            }
            inst.a = try source(ops[1], ins, type: type)
            inst.e = try source(ops[2], ins, type: .u32)
        case "redux":
            try need(3)
            inst.op = .redux
            guard let op = atomicOp(mods), [.add, .min, .max, .and, .or, .xor].contains(op), type != .f32 else { throw unsupported(ins) }
            inst.mode = op.rawValue
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: type)
            inst.e = try source(ops[2], ins, type: .u32)
        default:
            throw unsupported(ins)
        }
        code.append(inst)
    }

    mutating func vectorOrScalarDestination(_ o: Operand, _ ins: ParsedInstruction, into inst: inout Inst) throws(SimError) {
        if case .vector(let parts) = o {
            inst.count = UInt8(parts.count)
            inst.e = Int32(vectorSlots.count)
            for p in parts { vectorSlots.append(try destination(p, ins)) }
        } else {
            inst.d = try destination(o, ins)
        }
    }

    func memorySpace(_ mods: [String]) -> MemorySpace {
        for m in mods {
            switch m {
            case "global": return .global
            case "const": return .global
            case "shared": return .shared
            case "local": return .local
            case "param": return .param
            default: continue
            }
        }
        return .generic
    }

    func atomicOp(_ mods: [String]) -> AtomicOp? {
        for m in mods {
            switch m {
            case "add": return .add
            case "min": return .min
            case "max": return .max
            case "inc": return .inc
            case "dec": return .dec
            case "exch": return .exch
            case "cas": return .cas
            case "and": return .and
            case "or": return .or
            case "xor": return .xor
            default: continue
            }
        }
        return nil
    }

    mutating func emitArithmetic(_ ins: ParsedInstruction, _ inst: inout Inst) throws(SimError) {
        let mods = ins.modifiers
        let ops = ins.operands
        let type = inst.type
        func has(_ m: String) -> Bool { mods.contains(m) }
        let arity: Int
        switch ins.opcode {
        case "abs", "neg": arity = 1
        case "mad", "fma", "sad", "mad24", "madc": arity = 3
        default: arity = 2
        }
        guard ops.count == arity + 1 else { throw fail(ins.line, "\(ins.text) needs \(arity + 1) operands") }
        if type.isHalfPrecision {
            let op: HalfOp
            switch ins.opcode {
            case "add": op = .add
            case "sub": op = .sub
            case "mul": op = .mul
            case "fma", "mad": op = .fma
            case "min": op = .min
            case "max": op = .max
            case "abs": op = .abs
            case "neg": op = .neg
            default: throw unsupported(ins)
            }
            inst.op = .half
            inst.imm = Int64(op.rawValue)
            if has("relu") { inst.flags |= InstFlags.relu }
            if has("NaN") { inst.flags |= InstFlags.propagateNaN }
            if has("xorsign") { inst.flags |= InstFlags.xorSign }
        } else if type.isFloat {
            switch ins.opcode {
            case "add": inst.op = .fadd
            case "sub": inst.op = .fsub
            case "mul": inst.op = .fmul
            case "mad", "fma": inst.op = .ffma
            case "div": inst.op = .fdiv
            case "min": inst.op = .fmin
            case "max": inst.op = .fmax
            case "abs": inst.op = .fabs
            case "neg": inst.op = .fneg
            default: throw unsupported(ins)
            }
            if has("NaN") || has("xorsign") || has("relu") { throw unsupported(ins) }
        } else {
            let cc = has("cc")
            switch ins.opcode {
            case "add": inst.op = cc ? .addCC : .add
            case "addc": inst.op = .addC; inst.mode = cc ? 1 : 0
            case "subc": inst.op = .subC; inst.mode = cc ? 1 : 0
            case "madc": inst.op = has("hi") ? .madCHi : .madCLo; inst.mode = cc ? 1 : 0
            case "sub": inst.op = cc ? .subCC : .sub
            case "mul": inst.op = has("wide") ? .mulWide : (has("hi") ? .mulHi : .mulLo)
            case "mad":
                if cc { inst.op = has("hi") ? .madHiCC : .madLoCC }
                else { inst.op = has("wide") ? .madWide : (has("hi") ? .madHi : .madLo) }
            case "div": inst.op = .div
            case "rem": inst.op = .rem
            case "min": inst.op = .min
            case "max": inst.op = .max
            case "abs": inst.op = .abs
            case "neg": inst.op = .neg
            case "sad": inst.op = .sad
            case "mul24": inst.op = .mul24; inst.mode = has("hi") ? 1 : 0
            case "mad24": inst.op = .mad24; inst.mode = has("hi") ? 1 : 0
            default: throw unsupported(ins)
            }
            if has("relu") { throw unsupported(ins) }
        }
        inst.d = try destination(ops[0], ins)
        inst.a = try source(ops[1], ins, type: type)
        if arity >= 2 { inst.b = try source(ops[2], ins, type: type) }
        if arity >= 3 {
            let ctype: ScalarType
            if inst.op == .madWide {
                switch type {
                case .s16: ctype = .s32
                case .u16: ctype = .u32
                case .s32: ctype = .s64
                default: ctype = .u64
                }
            } else { ctype = type }
            inst.c = try source(ops[3], ins, type: ctype)
        }
    }

    mutating func emitCompare(_ ins: ParsedInstruction, _ inst: inout Inst, types: [ScalarType]) throws(SimError) {
        let mods = ins.modifiers
        let ops = ins.operands
        guard let cmp = mods.lazy.compactMap(Comparison.init).first else { throw fail(ins.line, "\(ins.text) has no comparison") }
        guard ops.count >= 3 else { throw fail(ins.line, "\(ins.text) needs 3 operands") }
        inst.op = ins.opcode == "setp" ? .setp : .set
        inst.mode = cmp.rawValue
        inst.type2 = types.last ?? .s32
        inst.type = types.first ?? .u32
        let halfSource = inst.type2.isHalfPrecision
        if halfSource { inst.op = inst.op == .setp ? .hsetp : .hset }
        // Optional boolean combination with a third predicate: setp.cmp.bop.
        var bop: UInt8 = 0
        if mods.contains("and") { bop = 1 } else if mods.contains("or") { bop = 2 } else if mods.contains("xor") { bop = 3 }
        if inst.op == .set || inst.op == .hset {
            inst.d = try destination(ops[0], ins)
        } else if case .pair(let p, let q) = ops[0] {
            inst.d = try predicate(p, ins).0
            inst.d2 = try predicate(q, ins).0
        } else {
            inst.d = try predicate(ops[0], ins).0
        }
        inst.a = try source(ops[1], ins, type: inst.type2)
        inst.b = try source(ops[2], ins, type: inst.type2)
        if bop != 0 {
            guard ops.count >= 4 else { throw fail(ins.line, "\(ins.text) needs a predicate to combine") }
            let (c, n) = try predicate(ops[3], ins)
            inst.c = c
            if n { inst.flags |= InstFlags.negateC }
            inst.e = Int32(bop)
        }
    }

    /// Inlines a `.func` call: the callee's parameters and return values share local-memory slots with the
    /// caller's call-site `.param` variables; its registers and labels are renamed per call site.
    mutating func emitCall(_ ins: ParsedInstruction, _ guardInst: Inst) throws(SimError) {
        var returns: [Operand] = []
        var callee: String?
        var args: [Operand] = []
        for o in ins.operands {
            switch o {
            case .list(let xs):
                if callee == nil { returns = xs } else { args = xs }
            case .symbol(let s):
                if callee == nil { callee = s } else { throw unsupported(ins, "indirect calls with prototypes") }
            case .register:
                throw unsupported(ins, "indirect calls")
            default:
                throw fail(ins.line, "bad call operand")
            }
        }
        guard let name = callee else { throw fail(ins.line, "call without a target") }
        if name == "vprintf" || name == "__assertfail" {
            // Calls the driver implements: the executor reads the call-site .param slots directly.
            var offsets: [Int32] = []
            for a in args {
                guard case .symbol(let n) = a, case .localParam(let off)? = lookup(n) else {
                    throw unsupported(ins, "\(name) arguments that are not .param variables")
                }
                offsets.append(Int32(off))
            }
            guard offsets.count == (name == "vprintf" ? 2 : 5) else { throw fail(ins.line, "\(name) called with \(offsets.count) arguments") }
            var inst = guardInst
            inst.op = name == "vprintf" ? .printf : .assertFail
            inst.e = Int32(vectorSlots.count)
            vectorSlots += offsets
            if name == "vprintf" {
                if let r = returns.first, case .symbol(let n) = r, case .localParam(let off)? = lookup(n) {
                    vectorSlots.append(Int32(off))
                } else {
                    vectorSlots.append(-1)
                }
            }
            code.append(inst)
            return
        }
        if guardInst.guardPredicate >= 0 { throw unsupported(ins, "predicated calls") }
        guard let f = builder.module.function(named: name) else {
            throw unsupported(ins, "call to external function \(name)")
        }
        guard !callStack.contains(name) else { throw unsupported(ins, "recursive call to \(name)") }
        guard callStack.count < 32 else { throw unsupported(ins, "call depth over 32") }
        guard f.parameters.count == args.count, f.returns.count == returns.count else {
            throw fail(ins.line, "call to \(name) with \(args.count) arguments for \(f.parameters.count) parameters")
        }
        inlineCounter += 1
        let prefix = "\(name)#\(inlineCounter)::"
        var scope = Scope(prefix: prefix, returnLabel: prefix + "%%return", function: name)
        // Module-scope names stay visible; caller registers do not.
        func bind(_ formal: ParsedParameter, to actual: Operand) throws(SimError) {
            guard case .symbol(let n) = actual, let b = lookup(n) else {
                throw unsupported(ins, "call arguments that are not .param variables")
            }
            guard case .localParam = b else { throw unsupported(ins, "call arguments that are not .param variables") }
            scope.names[formal.name] = b
        }
        for (formal, actual) in zip(f.parameters, args) { try bind(formal, to: actual) }
        for (formal, actual) in zip(f.returns, returns) { try bind(formal, to: actual) }
        scope.names["%%sink"] = scopes[0].names["%%sink"]
        scopes.append(scope)
        callStack.append(name)
        try emitBody(f.body)
        labels[prefix + "%%return"] = code.count
        callStack.removeLast()
        scopes.removeLast()
    }
}
