#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check that the YNL spec of the vfiosim family matches its uapi header.

    scripts/ynl-uapi-check.py [SPEC [HEADER]]

SPEC defaults to uapi/netlink/vfiosim.yaml, HEADER to uapi/linux/vfiosim.h.
The header is authoritative.  Parses its enums, #defines and structs (no
compiler needed) and asserts, for the names and values the spec renders
with the YNL code generator's naming rules:
  - the family name, version and multicast group defines;
  - enum vfiosim_cmd: every operation, in order, with its value, and the
    __MAX/MAX names; nothing in the enum the spec does not describe;
  - every attribute set with an enum-name: every attribute and value, the
    count/max names; the type in the header's comment (string, u32, ...)
    where it names one;
  - every enum definition: entries and values (a value-0 *_UNSPEC entry may
    be left out of the spec when it starts at 1);
  - consts and structs the spec says live in the header.
Prints each mismatch; exit 0 if none, 1 otherwise.
"""
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def c_upper(name):
    return name.upper().replace('-', '_')


def c_lower(name):
    return name.lower().replace('-', '_')


class Header:
    def __init__(self, path):
        with open(path) as f:
            text = f.read()
        self.comments = {}      # enum entry name -> its trailing comment
        for line in text.splitlines():
            m = re.match(r'\s*([A-Z_][A-Z0-9_]*)\s*(?:=[^,]*)?,\s*/\*\s*(.*?)\s*\*/', line)
            if m:
                self.comments[m.group(1)] = m.group(2)
        text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
        text = re.sub(r'//[^\n]*', ' ', text)
        self.defines = {}
        for m in re.finditer(r'^\s*#\s*define\s+(\w+)(?:[ \t]+(.*))?$', text, re.M):
            self.defines[m.group(1)] = (m.group(2) or '').strip()
        self.enums = {}         # name -> [(entry, value)]
        for m in re.finditer(r'enum\s+(\w+)\s*\{(.*?)\}\s*;', text, re.S):
            self.enums[m.group(1)] = self._enum(m.group(2))
        self.structs = {}       # name -> [(type, member)]
        for m in re.finditer(r'struct\s+(\w+)\s*\{(.*?)\}\s*;', text, re.S):
            members = []
            for decl in m.group(2).split(';'):
                decl = ' '.join(decl.split())
                if not decl:
                    continue
                dm = re.match(r'(.*?)\s*(\w+)\s*(\[[^\]]*\])?$', decl)
                members.append((dm.group(1), dm.group(2), dm.group(3) or ''))
            self.structs[m.group(1)] = members

    def _enum(self, body):
        entries, known, value = [], {}, -1
        for item in body.split(','):
            item = item.strip()
            if not item:
                continue
            if '=' in item:
                name, expr = (s.strip() for s in item.split('=', 1))
                value = self.eval(expr, known)
            else:
                name, value = item, value + 1
            known[name] = value
            entries.append((name, value))
        return entries

    def eval(self, expr, known=None):
        env = dict(known or {})
        env.update(self.numeric_defines())
        expr = re.sub(r'\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b', r'\1', expr)
        return eval(expr, {'__builtins__': {}}, env)

    def numeric_defines(self):
        """Every #define that is an integer expression of other ones."""
        if hasattr(self, '_numeric'):
            return self._numeric
        env, todo = {}, dict(self.defines)
        while todo:
            progress = False
            for k, v in list(todo.items()):
                expr = re.sub(r'\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b', r'\1', v)
                try:
                    val = eval(expr, {'__builtins__': {}}, env) if expr else None
                except Exception:
                    continue
                del todo[k]
                progress = True
                if isinstance(val, int):
                    env[k] = val
            if not progress:
                break
        self._numeric = env
        return env

    def define_str(self, name):
        v = self.defines.get(name)
        if v is None:
            return None
        m = re.fullmatch(r'"(.*)"', v)
        return m.group(1) if m else v


def main():
    spec_path = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(REPO, 'uapi/netlink/vfiosim.yaml')
    hdr_path = sys.argv[2] if len(sys.argv) > 2 else \
        os.path.join(REPO, 'uapi/linux/vfiosim.h')
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    hdr = Header(hdr_path)
    errors = []
    checked = 0

    def err(msg):
        errors.append(msg)

    def expect(what, want, got):
        nonlocal checked
        checked += 1
        if want != got:
            err(f"{what}: header has {got!r}, spec says {want!r}")

    fam = spec['name']
    ident = c_lower(fam)

    # Family name, version, multicast groups.
    fam_key = c_upper(spec.get('c-family-name', fam + '_FAMILY_NAME'))
    ver_key = c_upper(spec.get('c-version-name', fam + '_FAMILY_VERSION'))
    expect(f"#define {fam_key}", fam, hdr.define_str(fam_key))
    ver = hdr.define_str(ver_key)
    expect(f"#define {ver_key}", spec.get('version', 1),
           int(ver, 0) if ver is not None else None)
    for grp in spec.get('mcast-groups', {}).get('list', []):
        key = c_upper(grp.get('c-define-name', f"{ident}-mcgrp-{grp['name']}"))
        expect(f"#define {key}", grp['name'], hdr.define_str(key))

    # Compare an expected [(name, value)] list with a header enum.  The
    # header may add *_UNSPEC = 0 (implicit in the spec) and the cnt/max
    # pair; anything else extra or missing is an error.
    def compare_enum(enum_name, want, cnt_name=None, max_name=None):
        nonlocal checked
        if enum_name not in hdr.enums:
            err(f"enum {enum_name}: not in the header")
            return
        got = hdr.enums[enum_name]
        got_map = dict(got)
        for name, value in want:
            checked += 1
            if name not in got_map:
                err(f"enum {enum_name}: {name} (= {value}) missing from the header")
            elif got_map[name] != value:
                err(f"enum {enum_name}: {name} is {got_map[name]} in the header, "
                    f"{value} in the spec")
        want_names = {n for n, _ in want}
        last = max((v for _, v in want), default=0)
        for name, value in got:
            if name in want_names:
                continue
            if name.endswith('_UNSPEC') and value == 0:
                continue
            if name == cnt_name:
                expect(f"enum {enum_name}: {name}", last + 1, value)
                continue
            if name == max_name:
                expect(f"enum {enum_name}: {name}", last, value)
                continue
            err(f"enum {enum_name}: {name} (= {value}) is not in the spec")
        for name in (cnt_name, max_name):
            if name and name not in got_map:
                err(f"enum {enum_name}: {name} missing from the header")

    # Operations (unified message ids: sequential from 1 unless given).
    ops = spec['operations']
    op_pfx = ops.get('name-prefix', f"{fam}-cmd-")
    want, val = [], 1
    for op in ops['list']:
        val = op.get('value', val)
        want.append((c_upper(op_pfx + op['name']), val))
        val += 1
    compare_enum(c_lower(ops.get('enum-name', f"{fam}-cmd")), want,
                 c_upper(spec.get('cmd-cnt-name', '__' + op_pfx + 'max')),
                 c_upper(spec.get('cmd-max-name', op_pfx + 'max')))

    # Attribute sets.
    type_words = {'string', 'u8', 'u16', 'u32', 'u64', 's32', 's64',
                  'nest', 'binary', 'flag'}
    for aset in spec['attribute-sets']:
        if 'subset-of' in aset:
            continue
        pfx = aset.get('name-prefix', f"{fam}-a-{aset['name']}-")
        want, val = [], 1
        for attr in aset['attributes']:
            val = attr.get('value', val)
            cname = c_upper(pfx + attr['name'])
            want.append((cname, val))
            val += 1
            comment = hdr.comments.get(cname, '')
            word = re.match(r'(\w+)', comment)
            if word and word.group(1) in type_words:
                expect(f"type of {cname} (header comment '{comment}')",
                       attr['type'], word.group(1))
            m = re.search(r'enum (\w+)', comment)
            if m and attr.get('type') != 'nest':
                checked += 1
                enum_def = next((d for d in spec.get('definitions', [])
                                 if d['name'] == attr.get('enum')), None)
                if enum_def is None or c_lower(enum_def.get(
                        'enum-name', f"{fam}-{enum_def['name']}")) != m.group(1):
                    err(f"{cname}: the header says enum {m.group(1)}, the spec "
                        f"says enum: {attr.get('enum')}")
        enum_name = c_lower(aset.get('enum-name', f"{fam}-{aset['name']}"))
        compare_enum(enum_name, want,
                     c_upper(aset.get('attr-cnt-name', '__' + pfx + 'max')),
                     c_upper(aset.get('attr-max-name', pfx + 'max')))

    # Definitions: enums, consts, structs.
    for d in spec.get('definitions', []):
        if d['type'] in ('enum', 'flags'):
            pfx = d.get('name-prefix', f"{fam}-{d['name']}-")
            val = d.get('value-start', 0)
            if isinstance(val, str):
                val = hdr.eval(c_upper(val))
            want = []
            for i, e in enumerate(d['entries']):
                e = e if isinstance(e, dict) else {'name': e}
                if d['type'] == 'flags':
                    v = e.get('value', val + i)
                    want.append((c_upper(pfx + e['name']), 1 << v))
                else:
                    val = e.get('value', val)
                    want.append((c_upper(pfx + e['name']), val))
                    val += 1
            compare_enum(c_lower(d.get('enum-name', f"{fam}-{d['name']}")), want)
        elif d['type'] == 'const':
            key = c_upper(d.get('name-prefix', f"{fam}-") + d['name'])
            if key not in hdr.defines:
                err(f"const {d['name']}: #define {key} not in the header")
                continue
            expect(f"#define {key}", d['value'], hdr.eval(key))
        elif d['type'] == 'struct':
            sname = f"{ident}_{c_lower(d['name'])}"
            if sname not in hdr.structs:
                err(f"struct {sname}: not in the header")
                continue
            got = [(t, n) for t, n, arr in hdr.structs[sname] if not arr.startswith('[]')]
            wantm = [('__' + m['type'], c_lower(m['name'])) for m in d['members']]
            expect(f"struct {sname} members", wantm, got)

    for e in errors:
        print(f"{spec_path}: {e}")
    if errors:
        print(f"ynl-uapi-check: {len(errors)} mismatch(es) with {hdr_path}")
        return 1
    print(f"ynl-uapi-check: {checked} names and values match {hdr_path}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
