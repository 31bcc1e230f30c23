ALTER TABLE dbo.Orders ADD AuditedAt datetime2 NULL;
