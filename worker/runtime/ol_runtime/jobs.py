"""One-shot jobs in a lean container: installing one requirement with pip
(and reading its metadata), and timing a package's import."""
import os
import sys

from . import state
from .isolation import drop_privileges


def install(cfg):
    """pip install --no-deps one requirement into /host; print its metadata."""
    import json
    import subprocess
    import time
    drop_privileges(cfg)
    os.environ.clear()
    os.environ.update({'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': '/tmp', 'PIP_NO_INPUT': '1'})
    cmd = ['/usr/bin/python3', '-m', 'pip', 'install', '--no-deps', '--no-cache-dir', '--disable-pip-version-check',
           '--no-warn-script-location', '--target', '/host']
    cmd += cfg['indexArgs']
    cmd.append(cfg['requirement'])
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ms = (time.perf_counter() - t) * 1000
    out = r.stdout.decode(errors='replace')
    if r.returncode != 0:
        state.fail(json.dumps('pip exited with %d:\n%s' % (r.returncode, out[-3000:])))
    infos = [d for d in os.listdir('/host') if d.endswith('.dist-info')]
    if not infos:
        # pip installed nothing: the requirement's marker excluded it
        state.say('result ' + json.dumps({'skipped': True, 'pip_ms': ms, 'log': out[-1000:]}))
        return
    info = '/host/' + infos[0]
    from email.parser import Parser
    with open(info + '/METADATA', encoding='utf-8', errors='replace') as f:
        meta = Parser().parse(f, headersonly=True)
    sys.path.append('/usr/lib/python3/dist-packages')
    from pip._vendor.packaging.requirements import Requirement
    extras = cfg.get('extras', [])
    requires = []
    for spec in meta.get_all('Requires-Dist') or []:
        req = Requirement(spec)
        if req.marker is not None and not any(req.marker.evaluate({'extra': e}) for e in [''] + extras):
            continue
        requires.append(str(req.name) + ('[%s]' % ','.join(sorted(req.extras)) if req.extras else '') + str(req.specifier))
    top = []
    if os.path.exists(info + '/top_level.txt'):
        top = [l.strip() for l in open(info + '/top_level.txt') if l.strip()]
    else:
        for entry in sorted(os.listdir('/host')):
            if entry.endswith(('.dist-info', '.data')) or entry.startswith(('_', '.')) or entry == 'bin':
                continue
            if entry.endswith('.py'):
                top.append(entry[:-3])
            elif os.path.isdir('/host/' + entry):
                top.append(entry)
    state.say('result ' + json.dumps({'name': meta['Name'], 'version': meta['Version'], 'requires': requires,
                                'top_level': top, 'pip_ms': ms}))


def measure(cfg):
    """Times `import` of modules in fresh interpreters (median of cfg['runs'])."""
    import json
    import subprocess
    drop_privileges(cfg)
    code = ('import sys,time;sys.path[:0]=%r;t=time.perf_counter()\nfor m in %r: __import__(m)\n'
            'print((time.perf_counter()-t)*1000)') % (cfg['pythonPath'], cfg['modules'])
    runs = []
    for _ in range(cfg.get('runs', 3)):
        r = subprocess.run(['/usr/bin/python3', '-I', '-S', '-c', code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env={'PATH': '/usr/bin:/bin', 'HOME': '/tmp'})
        if r.returncode != 0:
            state.fail(json.dumps('importing %s failed:\n%s' % (', '.join(cfg['modules']), r.stdout.decode(errors='replace')[-3000:])))
        runs.append(float(r.stdout.decode().strip().splitlines()[-1]))
    runs.sort()
    state.say('result ' + json.dumps({'import_ms': runs[len(runs) // 2]}))
