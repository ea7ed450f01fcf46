/// Decodes one PTX `.entry` (with every `.func` it calls inlined) into a ``Program``: a flat array of
/// typed instructions over register-file slots, with labels resolved and module symbols linked to the
/// addresses they have in one context. Anything the interpreter cannot execute fails here, by name.
struct ProgramBuilder {
    let module: ParsedModule
    /// Device addresses of the module's global and constant variables in the loading context.
    let symbols: [String: UInt64]
    let device: DeviceProperties

    func build(entry: ParsedFunction) throws(SimError) -> Program {
        var e = ProgramEmitter(builder: self, entry: entry)
        try e.run()
        return e.finish()
    }
}

/// Where a name resolves within the function being emitted.
enum Binding {
    case register(Int32)
    case predicate(Int32)
    /// A `.param` mapped into per-thread local memory at this offset (call-site and callee parameters).
    case localParam(Int)
    /// A kernel parameter at this offset of the parameter buffer.
    case kernelParam(Int)
    /// A function-scope `.local` variable.
    case local(Int)
}

struct Scope {
    var names: [String: Binding] = [:]
    /// Label prefix of the inlined function (empty for the entry).
    var prefix: String
    /// Label to branch to on `ret` (nil in the entry: `ret` exits).
    var returnLabel: String?
    var function: String
}

/// Lowers one entry: owns the instruction array, labels, slots and scopes. `emit` classifies each instruction
/// once (``PTXOpcode``, ``PTXModifiers``) and hands it to its family's emitter (`ProgramBuilder+*.swift`).
struct ProgramEmitter {
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

    /// Fails unless `ins` has at least `n` operands: the check every family emitter starts with.
    func need(_ n: Int, _ ins: ParsedInstruction) throws(SimError) {
        guard ins.operands.count >= n else { throw fail(ins.line, "\(ins.text) needs \(n) operands, has \(ins.operands.count)") }
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
        let mods = PTXModifiers(ins.modifiers)
        inst.type = mods.type
        if mods.has(.ftz) { inst.flags |= InstFlags.ftz }
        if mods.has(.sat) { inst.flags |= InstFlags.sat }
        if mods.has(.approx) { inst.flags |= InstFlags.approx }
        if let r = mods.rounding { inst.mode = r.rawValue }

        guard let opcode = PTXOpcode(rawValue: ins.opcode) else { throw unsupported(ins) }
        if opcode == .call {
            try emitCall(ins, inst)
            return
        }
        switch opcode.family {
        case .move: try emitMove(ins, opcode, mods, &inst)
        case .memory: try emitMemory(ins, opcode, mods, &inst)
        case .conversion: try emitConversion(ins, opcode, mods, &inst)
        case .arithmetic: try emitArithmetic(ins, opcode, mods, &inst)
        case .logic: try emitLogic(ins, opcode, mods, &inst)
        case .bits: try emitBits(ins, opcode, mods, &inst)
        case .floatFunction: try emitFloatFunction(ins, opcode, mods, &inst)
        case .comparison: try emitComparison(ins, opcode, mods, &inst)
        case .control: try emitControl(ins, opcode, mods, &inst)
        case .synchronization: try emitSynchronization(ins, opcode, mods, &inst)
        case .warp: try emitWarp(ins, opcode, mods, &inst)
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
