"""The path from a GC root to the first instance of a class in an HPROF heap dump (jcmd PID GC.heap_dump FILE):
    hprof_path.py FILE org/flexnbd/downstream/ClientTransmission
A one-off for the afternoon of 2026-12-03 (BENCHMARKS: a client gone held its memory a minute longer)."""
import struct, sys, collections
data = open(sys.argv[1], 'rb').read()
target_cls = sys.argv[2]
p = data.index(b'\0') + 1
idsize = struct.unpack('>I', data[p:p+4])[0]; p += 12
def rid(o): return int.from_bytes(data[o:o+idsize], 'big')
strings = {}; classname = {}  # class obj id -> name
classinfo = {}  # id -> (super, [(name,type)])
refs = collections.defaultdict(list)  # target -> [(src, label)]
roots = {}
instances_of = collections.defaultdict(list)
objclass = {}
tsize = {2: idsize, 4: 1, 5: 2, 6: 4, 7: 8, 8: 1, 9: 2, 10: 4, 11: 8}
inst_data = {}
while p < len(data):
    tag = data[p]; ln = struct.unpack('>I', data[p+5:p+9])[0]; body = p + 9; p = body + ln
    if tag == 0x01:
        strings[rid(body)] = data[body+idsize:body+ln].decode('utf-8', 'replace')
    elif tag == 0x02:
        classname[rid(body+4)] = strings.get(rid(body+8+idsize), '?')
    elif tag in (0x0C, 0x1C):
        q = body; end = body + ln
        while q < end:
            st = data[q]; q += 1
            if st == 0xFF: roots[rid(q)] = 'unknown'; q += idsize
            elif st == 0x01: roots[rid(q)] = 'jni global'; q += 2*idsize
            elif st == 0x02: roots[rid(q)] = 'jni local'; q += idsize + 8
            elif st == 0x03: roots[rid(q)] = 'java frame'; q += idsize + 8
            elif st == 0x04: roots[rid(q)] = 'native stack'; q += idsize + 4
            elif st == 0x05: roots[rid(q)] = 'sticky class'; q += idsize
            elif st == 0x06: roots[rid(q)] = 'thread block'; q += idsize + 4
            elif st == 0x07: roots[rid(q)] = 'monitor'; q += idsize
            elif st == 0x08: roots[rid(q)] = 'thread obj'; q += idsize + 8
            elif st == 0x20:
                cid = rid(q); sup = rid(q+4+idsize); q += 4 + 7*idsize + 4
                ncp = struct.unpack('>H', data[q:q+2])[0]; q += 2
                for _ in range(ncp):
                    t = data[q+2]; q += 3 + tsize[t]
                nst = struct.unpack('>H', data[q:q+2])[0]; q += 2
                for _ in range(nst):
                    nm = strings.get(rid(q), '?'); t = data[q+idsize]; q += idsize + 1
                    if t == 2:
                        v = rid(q)
                        if v: refs[v].append((cid, 'static ' + nm))
                    q += tsize[t]
                nf = struct.unpack('>H', data[q:q+2])[0]; q += 2
                fields = []
                for _ in range(nf):
                    fields.append((strings.get(rid(q), '?'), data[q+idsize])); q += idsize + 1
                classinfo[cid] = (sup, fields)
            elif st == 0x21:
                oid = rid(q); cid = rid(q+4+idsize); n = struct.unpack('>I', data[q+4+2*idsize:q+8+2*idsize])[0]
                start = q + 8 + 2*idsize; inst_data[oid] = (cid, start); objclass[oid] = cid
                q = start + n
            elif st == 0x22:
                oid = rid(q); n = struct.unpack('>I', data[q+4+idsize:q+8+idsize])[0]; cid = rid(q+8+idsize)
                objclass[oid] = cid; s = q + 8 + 2*idsize
                for i in range(n):
                    v = rid(s + i*idsize)
                    if v: refs[v].append((oid, '[%d]' % i))
                q = s + n*idsize
            elif st == 0x23:
                oid = rid(q); n = struct.unpack('>I', data[q+4+idsize:q+8+idsize])[0]; t = data[q+8+idsize]
                q += 9 + idsize + n*tsize[t]
            else:
                raise SystemExit('unknown subtag %x' % st)
for oid, (cid, s) in inst_data.items():
    c = cid
    while c:
        sup, fields = classinfo[c]
        for nm, t in fields:
            if t == 2:
                v = rid(s)
                if v: refs[v].append((oid, nm))
            s += tsize[t]
        c = sup
    instances_of[classname.get(cid, '?')].append(oid)
def name(o):
    c = objclass.get(o)
    return classname.get(c, 'class ' + classname.get(o, '?')) if c else 'class ' + classname.get(o, '?')
for t in instances_of[target_cls][:1]:
    # BFS backwards to a root
    prev = {t: None}; dq = collections.deque([t]); found = None
    while dq:
        o = dq.popleft()
        if o in roots: found = o; break
        for src, lab in refs.get(o, []):
            if src not in prev:
                prev[src] = (o, lab); dq.append(src)
    o = found
    print('root:', roots.get(o), name(o))
    while o is not None and prev[o] is not None:
        nxt, lab = prev[o]
        print('  %s .%s -> %s' % (name(o), lab, name(nxt)))
        o = nxt
