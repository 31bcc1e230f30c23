// Azure SQL Elastic Job executions as declarative resources: one intent, one run.
package azureelasticjobs
