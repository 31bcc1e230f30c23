"""The run plans of `pulumi preview --json` as Markdown for a pull-request comment: a thin use of the package's
command, which is what to call (the composite action actions/plan-comment does):

    pulumi preview --json > preview.json
    python -m pulumi_azure_elastic_jobs.pr preview.json > plans.md    # or: elastic-jobs-plan-comment preview.json

This file stays for workflows that copied it to .github/plan_table.py (`python .github/plan_table.py preview.json`);
it needs the provider installed in the Python that runs it.
"""

from pulumi_azure_elastic_jobs.pr import main

if __name__ == "__main__":
    raise SystemExit(main())
