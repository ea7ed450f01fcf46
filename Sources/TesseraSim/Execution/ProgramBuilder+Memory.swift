// Lowering of data movement, memory and conversion instructions.
extension ProgramEmitter {
    /// Data movement: `mov` (registers, predicates, vector packing and unpacking, clock and timer reads) and `createpolicy`.
    mutating func emitMove(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let type = mods.type
        switch opcode {
        case .mov:
            try need(2, ins)
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
        case .createpolicy:
            try need(1, ins)
            inst.op = .mov
            inst.d = try destination(ops[0], ins)
            inst.a = constant(0)
        default:
            throw unsupported(ins)
        }
    }

    /// Memory: `ld`/`ldu`/`st`, `atom`/`red`, `cvta` and `isspacep`.
    mutating func emitMemory(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let type = mods.type
        switch opcode {
        case .ld, .ldu:
            try need(2, ins)
            inst.op = .ld
            var space = mods.space
            try address(ops[1], ins, space: &space, into: &inst)
            inst.space = space.rawValue
            try vectorOrScalarDestination(ops[0], ins, into: &inst)
            if mods.raw.contains("v8") || type == .b128 { throw unsupported(ins) }
        case .st:
            try need(2, ins)
            inst.op = .st
            var space = mods.space
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
        case .atom, .red:
            inst.op = opcode == .atom ? .atom : .red
            guard let op = mods.atomic else { throw unsupported(ins) }
            if mods.contains(where: { $0.hasPrefix("v") && Int($0.dropFirst()) != nil }) || type == .b128 {
                throw unsupported(ins)
            }
            // Half-precision atomics: add (`.noftz`), min and max, as sm_80/sm_90 define them.
            if type.isHalfPrecision && !(op == .add || op == .min || op == .max) { throw unsupported(ins) }
            inst.mode = op.rawValue
            var space = mods.space
            var i = 0
            if inst.op == .atom { try need(3, ins); inst.d = try destination(ops[0], ins); i = 1 } else { try need(2, ins) }
            try address(ops[i], ins, space: &space, into: &inst)
            inst.space = space.rawValue
            inst.b = try source(ops[i + 1], ins, type: type)
            if op == .cas {
                try need(i + 3, ins)
                inst.c = try source(ops[i + 2], ins, type: type)
            }
        case .cvta:
            try need(2, ins)
            inst.op = .cvta
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: .u64)
            inst.space = mods.space.rawValue
            inst.flags = mods.has(.to) ? 1 : 0
        case .isspacep:
            try need(2, ins)
            inst.op = .isspacep
            inst.d = try predicate(ops[0], ins).0
            inst.a = try source(ops[1], ins, type: .u64)
            inst.space = mods.space.rawValue
        default:
            throw unsupported(ins)
        }
    }

    /// Conversions: `cvt` between integer, float and half types.
    mutating func emitConversion(_ ins: ParsedInstruction, _ opcode: PTXOpcode, _ mods: PTXModifiers, _ inst: inout Inst) throws(SimError) {
        let ops = ins.operands
        let types = mods.types
        switch opcode {
        case .cvt:
            try need(2, ins)
            guard types.count == 2 else { throw fail(ins.line, "cvt needs two types") }
            inst.op = .cvt
            inst.type = types[0]
            inst.type2 = types[1]
            if types[1] == .f16x2 || types[1] == .bf16x2 || types[0] == .b128 { throw unsupported(ins) }
            if mods.contains(where: { ["e4m3x2", "e5m2x2", "tf32", "e2m1x2", "e3m2x2", "e2m3x2", "ue8m0x2", "satfinite"].contains($0) }) { throw unsupported(ins) }
            if mods.has(.relu) { inst.flags |= InstFlags.relu }
            inst.d = try destination(ops[0], ins)
            inst.a = try source(ops[1], ins, type: types[1])
            if types[0].isHalfPrecision || types[1].isHalfPrecision {
                inst.op = .cvtHalf
                if types[0] == .f16x2 || types[0] == .bf16x2 {
                    // cvt.rn.f16x2.f32 d, a, b: a goes to the upper half.
                    try need(3, ins)
                    inst.b = try source(ops[2], ins, type: types[1])
                }
            } else if inst.flags & InstFlags.relu != 0 {
                throw unsupported(ins)
            }
        default:
            throw unsupported(ins)
        }
    }
}
