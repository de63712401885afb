-- Argo CD health check for pinpoint.recommenders.dev/RecommenderModel.
-- Only basic Lua 5.1 is used: Argo CD loads the string library just for argocd-cm scripts that
-- opt in, so no string methods, string.format or patterns here.

-- Reasons that only a change to the spec (or to IAM) can fix: retrying will not help.
local terminal = {
  InvalidSpec = true,
  -- Checks before publishing that need the user to act (CampaignNotActive resolves by itself).
  CampaignNotFound = true,
  LambdaNotFound = true,
  LambdaNotInvokable = true,
  RoleNotFound = true,
  RoleNotTrusted = true,
  RoleNotOwned = true,
  Rejected = true,
  AccessDenied = true,
  -- Needs a slot freed in the account; the operator proceeds by itself once one is.
  QuotaExceeded = true,
  ConfigurationInUse = true,
  RoleNotAllowed = true,
  AdoptionNotAllowed = true,
  AccountNotBound = true,
  AccountMismatch = true,
  ConfigurationNotFound = true,
}

local function condition(conditions, condType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == condType then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or "Unknown"
  if c.message == nil or c.message == "" then
    return reason
  end
  return reason .. ": " .. c.message
end

local hs = {}
local meta = obj.metadata or {}
local status = obj.status
local generation = meta.generation
local conditions = nil
if status ~= nil then
  conditions = status.conditions
end
local ready = condition(conditions, "Ready")

-- Argo CD's engine itself reports "Pending deletion" before it runs a health script; this branch
-- serves other callers (argocd admin settings resource-overrides health, tests) and keeps the
-- script correct should that change.
if meta.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: waiting for the operator to remove the Pinpoint configuration"
  -- Deletion bumps metadata.generation, so a failed Ready at the current generation was written
  -- by the finalizer and says why deletion is held; an older one describes the spec, not this.
  if ready ~= nil and ready.status == "False" and ready.observedGeneration ~= nil
      and ready.observedGeneration == generation then
    hs.message = "Deleting: " .. describe(ready)
  end
  return hs
end

-- Conditions from an older generation describe a spec that no longer exists.
local observed = nil
if status ~= nil then
  observed = status.observedGeneration
end
if observed == nil or (generation ~= nil and observed ~= generation)
    or (ready ~= nil and ready.observedGeneration ~= nil and generation ~= nil
        and ready.observedGeneration ~= generation) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "Waiting for the operator to observe generation " .. generation
  else
    hs.message = "Waiting for the operator to observe this object"
  end
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  local id = status.configurationId or "(unknown)"
  hs.message = "Ready: recommender configuration " .. id
  if status.region ~= nil then
    hs.message = hs.message .. " in " .. status.region
  end
  return hs
end

-- kstatus's abnormal-true conditions, written by operators since Stalled and Reconciling came
-- in: they say directly whether the operator is still working or needs someone to act. Their
-- messages start with the reason already.
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or describe(stalled)
  return hs
end
local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.message or describe(reconciling)
  return hs
end

-- Operators before Stalled: the reason says it.
local validated = condition(conditions, "Validated")
if validated ~= nil and validated.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(validated)
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if ready.status == "False" and terminal[ready.reason] then
  hs.status = "Degraded"
else
  -- Throttled, PinpointUnavailable, KubernetesError, Unknown status: the operator retries.
  hs.status = "Progressing"
end
hs.message = describe(ready)
return hs
