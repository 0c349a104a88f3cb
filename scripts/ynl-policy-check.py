#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare the attribute policies of kmod/genl.c with the generated ones.

    scripts/ynl-policy-check.py GENERATED.c KERNEL.c

GENERATED.c is what `ynl_gen_c.py --mode kernel --source` made of
uapi/netlink/vfiosim.yaml; KERNEL.c is kmod/genl.c.  The module keeps its
own genl_ops (6.1 has no genl_split_ops) with a policy per command, so the
two are compared by meaning, not text: for each command's do request, the
set of attributes it accepts and, for each, the policy type and the length
bounds (constant expressions are evaluated by the C compiler against
uapi/linux/vfiosim.h), and maxattr.  Prints every difference as
"command attribute: spec ... kernel ..."; exit 0 if none, 1 if any, 2 if a
file cannot be read.

Known differences, allowed and printed as notes:
  - a binary attribute whose spec has only max-len may have a min-len in the
    kernel: the generator takes one length check per binary attribute
    ("More than one check for binary type not implemented").
  - genl_ops apply the do policy to the dump as well; a dump request (the
    spec's dev-get dump takes no attributes) is not compared.
"""
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Names the kernel headers define and the C evaluator does not see.
KERNEL_CONSTS = '''
#define UUID_STRING_LEN 36	/* include/linux/uuid.h */
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
'''

# Bounds held in nla_policy's s16 min/max (not .len): they must fit.
RANGE_BOUNDS = []

# Types whose length bounds the policy gives (.len or a range).
LEN_TYPES = {'NLA_BINARY', 'NLA_STRING', 'NLA_NUL_STRING'}


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', text)


def split_top(text, sep=','):
    """Split on sep outside parentheses and braces."""
    out, depth, cur = [], 0, ''
    for ch in text:
        if ch in '({':
            depth += 1
        elif ch in ')}':
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [x.strip() for x in out if x.strip()]


def parse_entry(value):
    """A policy entry -> (type, min expr or None, max expr or None)."""
    v = ' '.join(value.split()).rstrip(',').strip()
    m = re.fullmatch(r'NLA_POLICY_(MAX_LEN|MIN_LEN|EXACT_LEN)\((.*)\)', v)
    if m:
        kind, arg = m.group(1), m.group(2)
        return {'MAX_LEN': ('NLA_BINARY', None, arg),
                'MIN_LEN': ('NLA_BINARY', arg, None),
                'EXACT_LEN': ('NLA_BINARY', arg, arg)}[kind]
    m = re.fullmatch(r'NLA_POLICY_RANGE\((.*)\)', v)
    if m:
        t, lo, hi = split_top(m.group(1))
        RANGE_BOUNDS.extend([lo, hi])
        return (t, lo, hi)
    m = re.fullmatch(r'\{(.*)\}', v)
    if m:
        fields = {}
        for f in split_top(m.group(1)):
            fm = re.fullmatch(r'\.(\w+)\s*=\s*(.*)', f)
            if not fm:
                raise ValueError(f'cannot read policy field "{f}"')
            fields[fm.group(1)] = fm.group(2).strip()
        t = fields.get('type', 'NLA_UNSPEC')
        lo, hi = None, fields.get('len') if t in LEN_TYPES else None
        vt = fields.get('validation_type')
        if vt in ('NLA_VALIDATE_MIN', 'NLA_VALIDATE_RANGE'):
            lo = fields.get('min')
        if vt in ('NLA_VALIDATE_MAX', 'NLA_VALIDATE_RANGE'):
            hi = fields.get('max')
            if hi is not None:
                RANGE_BOUNDS.append(hi)
        elif vt not in (None, 'NLA_VALIDATE_MIN'):
            raise ValueError(f'cannot read validation "{vt}"')
        return (t, lo, hi)
    raise ValueError(f'cannot read policy entry "{v}"')


def parse_policies(text):
    """name -> (dimension expr, {attr: (type, min, max)})"""
    pols = {}
    for m in re.finditer(r'(?:static\s+)?const\s+struct\s+nla_policy\s+(\w+)'
                         r'\s*\[([^\]]*)\]\s*=\s*\{(.*?)\n\};', text, re.S):
        name, dim, body = m.group(1), m.group(2).strip(), m.group(3)
        entries = {}
        parts = re.split(r'\[\s*(\w+)\s*\]\s*=', body)
        for attr, value in zip(parts[1::2], parts[2::2]):
            entries[attr] = parse_entry(value)
        pols[name] = (dim, entries)
    return pols


def parse_ops(text):
    """cmd -> (policy name or None, maxattr expr or None) of its doit."""
    ops = {}
    m = re.search(r'struct\s+genl_(?:split_|small_)?ops\s+\w+\s*\[[^\]]*\]\s*='
                  r'\s*\{(.*?)\n\};', text, re.S)
    if not m:
        raise ValueError('no genl ops table')
    for block in re.findall(r'\{([^{}]*)\}', m.group(1)):
        fields = {}
        for f in split_top(block):
            fm = re.fullmatch(r'\.(\w+)\s*=\s*(.*)', f, re.S)
            if fm:
                fields[fm.group(1)] = ' '.join(fm.group(2).split())
        if 'cmd' not in fields or 'doit' not in fields:
            continue
        ops[fields['cmd']] = (fields.get('policy'), fields.get('maxattr'))
    return ops


def evaluate(exprs):
    """Evaluate C constant expressions against the uapi header."""
    exprs = sorted(set(exprs))
    if not exprs:
        return {}
    src = ['#include <stdint.h>', '#include <stdio.h>',
           '#include <linux/vfiosim.h>', KERNEL_CONSTS, 'int main(void)', '{']
    for e in exprs:
        src.append(f'\tprintf("%llu\\n", (unsigned long long)({e}));')
    src += ['\treturn 0;', '}']
    with tempfile.TemporaryDirectory() as tmp:
        c, exe = os.path.join(tmp, 'eval.c'), os.path.join(tmp, 'eval')
        with open(c, 'w') as f:
            f.write('\n'.join(src) + '\n')
        cc = os.environ.get('CC', 'cc')
        r = subprocess.run([cc, '-I', os.path.join(REPO, 'uapi'), '-o', exe, c],
                           capture_output=True, text=True)
        if r.returncode:
            raise ValueError('cannot evaluate the policy constants:\n' + r.stderr)
        out = subprocess.run([exe], capture_output=True, text=True,
                             check=True).stdout.split()
    return dict(zip(exprs, (int(x) for x in out)))


def accepted(pols, policy, maxattr):
    """{attr: (type, min, max)} a command accepts, and its maxattr expr."""
    if not policy:
        return {}, None
    if policy not in pols:
        raise ValueError(f'policy {policy} not found')
    dim, entries = pols[policy]
    if maxattr:
        maxattr = re.sub(r'ARRAY_SIZE\(\s*' + policy + r'\s*\)', f'({dim})',
                         maxattr)
    return ({a: e for a, e in entries.items()
             if e[0] not in ('NLA_REJECT', 'NLA_UNSPEC')}, maxattr)


def main():
    if len(sys.argv) != 3:
        print(__doc__.split('\n\n')[1])
        return 2
    try:
        texts = [strip_comments(open(p).read()) for p in sys.argv[1:]]
        gen_pols, ker_pols = (parse_policies(t) for t in texts)
        gen_ops, ker_ops = (parse_ops(t) for t in texts)
    except (OSError, ValueError) as e:
        print(f'ynl-policy-check: {e}')
        return 2

    diffs, notes, exprs, pairs = [], [], [], []
    for cmd in sorted(set(gen_ops) | set(ker_ops)):
        if cmd not in ker_ops:
            diffs.append(f'{cmd}: in the spec, not in the kernel ops')
            continue
        if cmd not in gen_ops:
            diffs.append(f'{cmd}: in the kernel ops, not in the spec')
            continue
        try:
            g, gmax = accepted(gen_pols, *gen_ops[cmd])
            k, kmax = accepted(ker_pols, *ker_ops[cmd])
        except ValueError as e:
            print(f'ynl-policy-check: {cmd}: {e}')
            return 2
        for attr in sorted(set(g) | set(k)):
            if attr not in k:
                diffs.append(f'{cmd} {attr}: the spec takes it, the kernel refuses it')
            elif attr not in g:
                diffs.append(f'{cmd} {attr}: the kernel takes it, the spec does not')
            else:
                pairs.append((cmd, attr, g[attr], k[attr]))
                exprs += [x for x in g[attr][1:] + k[attr][1:] if x]
        if g and k:
            if not gmax or not kmax:
                diffs.append(f'{cmd}: maxattr spec {gmax} kernel {kmax}')
            else:
                pairs.append((cmd, 'maxattr', gmax, kmax))
                exprs += [gmax, kmax]
    exprs += RANGE_BOUNDS
    try:
        val = evaluate(exprs)
    except (ValueError, subprocess.CalledProcessError) as e:
        print(f'ynl-policy-check: {e}')
        return 2

    def num(x):
        return val[x] if x else None

    for b in sorted(set(RANGE_BOUNDS)):
        if not -32768 <= val[b] <= 32767:
            diffs.append(f'kernel: range bound {b} = {val[b]} does not fit '
                         'the policy\'s s16 min/max (use .len for a maximum)')

    for cmd, attr, g, k in pairs:
        if attr == 'maxattr':
            if val[g] != val[k]:
                diffs.append(f'{cmd}: maxattr spec {g} = {val[g]}, kernel {k} = {val[k]}')
            continue
        gt, gmin, gmax = g[0], num(g[1]), num(g[2])
        kt, kmin, kmax = k[0], num(k[1]), num(k[2])
        what = f'{cmd} {attr}'
        if gt != kt:
            diffs.append(f'{what}: type spec {gt}, kernel {kt}')
        if (gmax or 0) != (kmax or 0):
            diffs.append(f'{what}: max length spec {gmax}, kernel {kmax}')
        if (gmin or 0) != (kmin or 0):
            if gt == 'NLA_BINARY' and gmin is None and gmax is not None and \
                    kmin is not None:
                notes.append(f'{what}: kernel min length {kmin} '
                             '(the generator takes one check per binary attribute)')
            else:
                diffs.append(f'{what}: min length spec {gmin}, kernel {kmin}')
    notes.append('dump requests not compared (genl_ops share the do policy)')

    for n in notes:
        print(f'note: {n}')
    for d in diffs:
        print(f'DIFF: {d}')
    ncmds = len(set(gen_ops) & set(ker_ops))
    if diffs:
        print(f'ynl-policy-check: kmod/genl.c and the spec differ '
              f'({len(diffs)} difference(s))')
        return 1
    print(f'ynl-policy-check: {ncmds} commands, policies of kmod/genl.c '
          'match the spec')
    return 0


if __name__ == '__main__':
    sys.exit(main())
