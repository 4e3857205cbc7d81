#!/usr/bin/env python3
"""Cut the GitHub REST operations kpsa calls beyond ../shared/schemas/github-pulls-openapi-subset.json
out of the same source (npm @octokit/openapi@23.0.2, generated/api.github.com.json), with every
component they reference and without x-octokit keys, into tests/fixtures/github-openapi-extra.json.
The fake GitHub of tests/github.rs checks kpsa's requests against both files.

    npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    tools/cut-github-openapi.py package/generated/api.github.com.json
"""
import json
import sys

OPS = {
    "/repos/{owner}/{repo}/pulls": ["get"],
    "/repos/{owner}/{repo}/pulls/{pull_number}": ["get"],
    "/repos/{owner}/{repo}/pulls/{pull_number}/files": ["get"],
    "/repos/{owner}/{repo}/issues/{issue_number}/events": ["get"],
    "/repos/{owner}/{repo}/collaborators/{username}/permission": ["get"],
    "/repos/{owner}/{repo}/statuses/{sha}": ["post"],
    "/repos/{owner}/{repo}/code-scanning/sarifs": ["post"],
}


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if not k.startswith("x-octokit")}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def refs(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "$ref" and isinstance(x, str):
                out.add(x)
            else:
                refs(x, out)
    elif isinstance(v, list):
        for x in v:
            refs(x, out)


def main(src):
    spec = json.load(open(src))
    paths = {}
    for p, methods in OPS.items():
        item = spec["paths"][p]
        paths[p] = {m: strip(item[m]) for m in methods}
        if "parameters" in item:
            paths[p]["parameters"] = strip(item["parameters"])
    components = {}
    todo = set()
    refs(paths, todo)
    seen = set()
    while todo:
        r = todo.pop()
        if r in seen:
            continue
        seen.add(r)
        _, _, kind, name = r.split("/", 3)
        node = strip(spec["components"][kind][name])
        components.setdefault(kind, {})[name] = node
        refs(node, todo)
    out = {
        "openapi": spec["openapi"],
        "info": {"title": "GitHub REST subset for kpsa's fake GitHub", "version": spec["info"]["version"]},
        "paths": paths,
        "components": components,
    }
    with open("tests/fixtures/github-openapi-extra.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
