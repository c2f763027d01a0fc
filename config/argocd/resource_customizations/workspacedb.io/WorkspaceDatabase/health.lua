-- Argo CD health of a workspacedb.io object, read from the conditions kstatus reads (README,
-- "Conditions"): Degraded while Stalled=True (only a person can change the state), Progressing while
-- the operator has not acted on the latest spec or Reconciling=True, Healthy when Ready=True.
-- Uses only Lua's base and table libraries, as argocd-cm health checks get by default.
local hs = { status = "Progressing", message = "Waiting for the operator's first pass" }
if obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Being deleted"
  return hs
end
local status = obj.status
if status == nil or status.conditions == nil then
  return hs
end
if obj.metadata.generation ~= nil and status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for the operator to act on generation " .. tostring(obj.metadata.generation)
  return hs
end
local ready, reconciling, stalled
for _, condition in ipairs(status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Reconciling" and condition.status == "True" then
    reconciling = condition
  elseif condition.type == "Stalled" and condition.status == "True" then
    stalled = condition
  end
end
if stalled ~= nil then
  hs.status = "Degraded"
  hs.message = tostring(stalled.reason) .. ": " .. tostring(stalled.message)
elseif reconciling ~= nil then
  hs.message = tostring(reconciling.reason) .. ": " .. tostring(reconciling.message)
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = tostring(ready.message)
elseif ready ~= nil then
  hs.message = tostring(ready.reason) .. ": " .. tostring(ready.message)
end
return hs
