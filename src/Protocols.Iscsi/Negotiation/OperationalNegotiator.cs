using System.Globalization;

namespace StorageAppliance.Protocols.Iscsi.Negotiation;

/// <summary>How the negotiation of one set of offers ended.</summary>
public enum NegotiationError : byte
{
    None,

    /// <summary>A key appeared twice in one negotiation (RFC 7143 6.2: "MUST NOT be repeated").</summary>
    RepeatedKey,

    /// <summary>The initiator sent a key only a target may send (TargetAlias, TargetAddress, TargetPortalGroupTag).</summary>
    TargetOnlyKey,

    /// <summary>A key that may only be used in the login phase was sent in full feature phase.</summary>
    NotAllowedInPhase,
}

/// <summary>
/// The responder side of operational parameter negotiation (RFC 7143 6.2 and 13): for each key the
/// initiator offers, the value this target answers and the value the session then uses.
/// </summary>
/// <remarks>
/// Rules applied, per RFC 7143:
/// list keys answer the first offered value this target supports (6.2.1); "min"/"max" numerical keys
/// answer the smaller/larger of offer and limit (6.2.2); boolean "OR" keys (InitialR2T, DataPDUInOrder,
/// DataSequenceInOrder) and "AND" keys (ImmediateData) (6.2.2); out-of-range or malformed values are
/// answered "Reject" and the default stays; unknown keys "NotUnderstood" (6.2); keys that do not apply to
/// a discovery session or to FirstBurstLength when InitialR2T=Yes and ImmediateData=No are "Irrelevant";
/// the obsolete marker keys get "No"/"Reject", never "NotUnderstood" (13.25).
/// </remarks>
public sealed class OperationalNegotiator
{
    private readonly TargetLimits _limits;
    private readonly SessionParameters _params;
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    public OperationalNegotiator(TargetLimits limits, SessionParameters parameters)
    {
        _limits = limits;
        _params = parameters;
    }

    /// <summary>Keys answered (or declared) so far in this login.</summary>
    public bool HasSeen(string key) => _seen.Contains(key);

    /// <summary>Forgets which keys were seen (a new text negotiation in full feature phase).</summary>
    public void ResetSeen() => _seen.Clear();

    /// <summary>
    /// Answers one offered key. Returns false with <paramref name="error"/> when the offer breaks a rule
    /// that ends the negotiation; otherwise appends the answer (if any) to <paramref name="response"/>.
    /// Keys handled elsewhere (security keys, InitiatorName, SessionType, TargetName) are not passed here.
    /// </summary>
    public bool Answer(string key, string value, bool fullFeature, List<byte> response, out NegotiationError error)
    {
        error = NegotiationError.None;
        if (!_seen.Add(key))
        {
            error = NegotiationError.RepeatedKey;
            return false;
        }

        bool discovery = _params.SessionType == SessionType.Discovery;
        switch (key)
        {
            case "HeaderDigest":
            case "DataDigest":
                {
                    if (fullFeature)
                        return Reject(key, response);
                    var allowed = key == "HeaderDigest" ? _limits.HeaderDigests : _limits.DataDigests;
                    string? chosen = null;
                    foreach (var offered in value.Split(','))
                    {
                        foreach (var a in allowed)
                        {
                            if (string.Equals(a, offered, StringComparison.Ordinal))
                            {
                                chosen = a;
                                break;
                            }
                        }
                        if (chosen is not null)
                            break;
                    }
                    if (chosen is null)
                        return Reject(key, response);
                    if (key == "HeaderDigest")
                        _params.HeaderDigest = chosen == "CRC32C";
                    else
                        _params.DataDigest = chosen == "CRC32C";
                    TextParameters.Append(response, key, chosen);
                    return true;
                }

            case "MaxRecvDataSegmentLength":
                {
                    // Declarative (13.12): the initiator states what it can receive; we state ours.
                    if (!TryNumber(value, 512, 16777215, out long n))
                        return Reject(key, response);
                    _params.InitiatorMaxRecvDataSegmentLength = (int)n;
                    _params.TargetMaxRecvDataSegmentLength = _limits.MaxRecvDataSegmentLength;
                    TextParameters.Append(response, key, _limits.MaxRecvDataSegmentLength.ToString(CultureInfo.InvariantCulture));
                    return true;
                }

            case "MaxConnections":
                return MinNumber(key, value, 1, 65535, _limits.MaxConnections, fullFeature, discovery, v => _params.MaxConnections = v, response);
            case "MaxBurstLength":
                return MinNumber(key, value, 512, 16777215, _limits.MaxBurstLength, fullFeature, discovery, v =>
                {
                    _params.MaxBurstLength = v;
                    if (_params.FirstBurstLength > v)
                        _params.FirstBurstLength = v;
                }, response);
            case "FirstBurstLength":
                {
                    if (_params.InitialR2T && !_params.ImmediateData && !discovery && !fullFeature)
                    {
                        TextParameters.Append(response, key, "Irrelevant");
                        return true;
                    }
                    int limit = Math.Min(_limits.FirstBurstLength, _params.MaxBurstLength);
                    return MinNumber(key, value, 512, 16777215, limit, fullFeature, discovery, v => _params.FirstBurstLength = v, response);
                }
            case "MaxOutstandingR2T":
                return MinNumber(key, value, 1, 65535, _limits.MaxOutstandingR2T, fullFeature, discovery, v => _params.MaxOutstandingR2T = v, response);
            case "DefaultTime2Wait":
                {
                    if (fullFeature)
                        return Reject(key, response);
                    if (!TryNumber(value, 0, 3600, out long n))
                        return Reject(key, response);
                    int result = (int)Math.Max(n, _limits.DefaultTime2Wait); // "max" function (13.15)
                    _params.DefaultTime2Wait = result;
                    TextParameters.Append(response, key, result.ToString(CultureInfo.InvariantCulture));
                    return true;
                }
            case "DefaultTime2Retain":
                return MinNumber(key, value, 0, 3600, _limits.DefaultTime2Retain, fullFeature, false, v => _params.DefaultTime2Retain = v, response);
            case "ErrorRecoveryLevel":
                // Only level 0 is implemented; "min" makes the answer 0 whatever is offered.
                return MinNumber(key, value, 0, 2, 0, fullFeature, false, v => _params.ErrorRecoveryLevel = v, response);

            case "InitialR2T":
                return Boolean(key, value, fullFeature, discovery, or: true, _limits.InitialR2T, v => _params.InitialR2T = v, response);
            case "ImmediateData":
                return Boolean(key, value, fullFeature, discovery, or: false, _limits.ImmediateData, v => _params.ImmediateData = v, response);
            case "DataPDUInOrder":
                // This target places data by offset but checks sequences in order: answer Yes (OR).
                return Boolean(key, value, fullFeature, discovery, or: true, true, v => _params.DataPduInOrder = v, response);
            case "DataSequenceInOrder":
                return Boolean(key, value, fullFeature, discovery, or: true, true, v => _params.DataSequenceInOrder = v, response);

            case "IFMarker":
            case "OFMarker":
                // RFC 7143 13.25: SHOULD answer "Reject", MAY answer "No", MUST NOT answer NotUnderstood.
                // "No" is what every initiator that still sends these keys expects.
                TextParameters.Append(response, key, "No");
                return true;
            case "IFMarkInt":
            case "OFMarkInt":
                TextParameters.Append(response, key, "Reject");
                return true;

            case "iSCSIProtocolLevel":
                {
                    // RFC 7144 2.1: negotiated with "min"; this implementation is at level 1 (RFC 7143).
                    if (!TryNumber(value, 0, 31, out long n))
                        return Reject(key, response);
                    TextParameters.Append(response, key, Math.Min(n, 1).ToString(CultureInfo.InvariantCulture));
                    return true;
                }
            case "TaskReporting":
                // RFC 7144 (list): only RFC3720 semantics are offered.
                TextParameters.Append(response, key, value.Split(',').Contains("RFC3720") ? "RFC3720" : "Reject");
                return true;

            case "TargetAlias":
            case "TargetAddress":
            case "TargetPortalGroupTag":
                error = NegotiationError.TargetOnlyKey;
                return false;

            case "InitiatorAlias":
                _params.InitiatorAlias = value;
                return true; // declarative, no answer

            default:
                // Unknown and X-/X# extension keys (6.2: "NotUnderstood").
                TextParameters.Append(response, key, "NotUnderstood");
                return true;
        }
    }

    private static bool Reject(string key, List<byte> response)
    {
        TextParameters.Append(response, key, "Reject");
        return true;
    }

    private static bool TryNumber(string value, long min, long max, out long n)
    {
        n = 0;
        if (!TextParameters.TryParseNumber(value, out ulong u) || u > (ulong)max || u < (ulong)min)
            return false;
        n = (long)u;
        return true;
    }

    private static bool MinNumber(string key, string value, long min, long max, int limit, bool fullFeature, bool irrelevant,
        Action<int> apply, List<byte> response)
    {
        if (fullFeature)
            return Reject(key, response);
        if (irrelevant)
        {
            TextParameters.Append(response, key, "Irrelevant");
            return true;
        }
        if (!TryNumber(value, min, max, out long n))
            return Reject(key, response);
        int result = (int)Math.Min(n, limit);
        apply(result);
        TextParameters.Append(response, key, result.ToString(CultureInfo.InvariantCulture));
        return true;
    }

    private static bool Boolean(string key, string value, bool fullFeature, bool irrelevant, bool or, bool ours,
        Action<bool> apply, List<byte> response)
    {
        if (fullFeature)
            return Reject(key, response);
        if (irrelevant)
        {
            TextParameters.Append(response, key, "Irrelevant");
            return true;
        }
        bool offered;
        if (value == "Yes")
            offered = true;
        else if (value == "No")
            offered = false;
        else
            return Reject(key, response);
        bool result = or ? offered || ours : offered && ours;
        apply(result);
        TextParameters.Append(response, key, result ? "Yes" : "No");
        return true;
    }
}
