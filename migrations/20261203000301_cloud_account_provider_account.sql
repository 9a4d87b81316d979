-- Which provider account a cloud account reaches (AWS: the account id STS GetCallerIdentity
-- answers), learnt at creation and at every connection test; null until a call has succeeded.
-- On the sandbox it is the cloud account's own moto account.
alter table cloud_account
    add column provider_account_id text
        check (provider_account_id ~ '^[0-9]{12}$'),
    add column provider_account_checked_at timestamptz;
